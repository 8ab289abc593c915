import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { RunRecord, UNFINISHED_MESSAGE } from '../../harness/reporters/collect.ts';
import { htmlReport, htmlReporter } from '../../harness/reporters/html.ts';
import { REPORT_MODE } from '../../harness/reporters/text.ts';
import { createReporters } from '../../harness/reporters/index.ts';
import { cleanLine, cleanText } from '../../harness/reporters/text.ts';
import type { RunEvent } from '../../harness/runner/events.ts';
import { hostileText, UNPRINTABLE } from './arbitraries.ts';
import { captureStream, failed, feed, KIOSK, LAB, NASTY_LINE_CLEAN, passed, RUN, runStart } from './events.ts';
import { describeXmllint, xpathCount, xpathString } from './xmllint.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const REPORT = htmlReport(RunRecord.of(RUN));

/** HTML void elements: the only ones without a closing tag (written `<meta …/>` here). */
const VOID = new Set(['meta', 'input', 'br', 'hr', 'img', 'link', 'col', 'wbr']);

/**
 * A tiny well-formedness check that needs no tool: every `<` starts a tag or the doctype, tags nest
 * and close in order, void elements self-close. Returns the problems found (none: well-formed).
 */
function tagProblems(html: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const body = html.replace(/^<!DOCTYPE html>\n/, '');
  const tag = /<(\/?)([a-z][a-z0-9]*)((?:\s+[a-z-]+="[^"<]*")*)\s*(\/?)>/y;
  for (let i = body.indexOf('<'); i >= 0; i = body.indexOf('<', i + 1)) {
    tag.lastIndex = i;
    const m = tag.exec(body);
    if (!m) {
      problems.push(`a raw "<" at ${i}: ${JSON.stringify(body.slice(i, i + 30))}`);
      continue;
    }
    const [, closing, name, , selfClosing] = m as unknown as [string, string, string, string, string];
    if (closing) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> at ${i} closes <${open}>`);
    } else if (VOID.has(name) !== (selfClosing === '/')) {
      problems.push(`<${name}> at ${i}: ${VOID.has(name) ? 'a void element must self-close' : 'only void elements self-close'}`);
    } else if (!selfClosing) {
      stack.push(name);
    }
  }
  if (stack.length > 0) problems.push(`never closed: ${stack.join(' ')}`);
  return problems;
}

/** `xmllint --noout -`: the page parses as XML (it is written XHTML-compatible). */
function xmlProblems(html: string): string {
  const r = spawnSync('xmllint', ['--noout', '-'], { input: html, encoding: 'utf8' });
  return r.status === 0 ? '' : `${r.stdout}${r.stderr}`;
}

describe('html reporter', () => {
  it('writes <outDir>/report.html (directory created), readable by the lab (0644), and nothing else', async () => {
    const root = mkdtempSync(join(tmpdir(), 'myna-hil-html-'));
    dirs.push(root);
    const outDir = join(root, 'reports', 'nested');
    const { files, text } = await feed(htmlReporter, RUN, { outDir });
    const path = join(outDir, 'report.html');
    expect(files).toEqual([path]);
    expect(text).toBe(''); // no console output
    expect(readdirSync(outDir)).toEqual(['report.html']); // no temporary file left
    expect(statSync(path).mode & 0o777).toBe(REPORT_MODE);
    expect(REPORT_MODE).toBe(0o644);
    expect(readFileSync(path, 'utf8')).toBe(REPORT);
  });

  it('is registered as --reporter html', () => {
    const [reporter] = createReporters(['html'], { outDir: '/nonexistent', out: captureStream(), tty: false });
    expect(reporter?.name).toBe('html');
  });

  it('is well-formed: tags balance, void elements self-close, no raw "<" anywhere', () => {
    expect(tagProblems(REPORT)).toEqual([]);
    // the check is not a rubber stamp
    expect(tagProblems(REPORT.replace('</summary>', ''))).not.toEqual([]);
    expect(tagProblems(REPORT.replace('<meta charset="utf-8"/>', '<meta charset="utf-8">'))).not.toEqual([]);
    expect(tagProblems(REPORT.replace('&lt;b&gt;', '<b>'))).not.toEqual([]);
    expect(tagProblems(REPORT.replace('&lt;redacted&gt;', '<redacted'))).not.toEqual([]);
  });

  it('is self-contained: no external URL, no script, no stylesheet link, no style attribute', () => {
    expect(REPORT).not.toMatch(/https?:\/\//i);
    expect(REPORT).not.toMatch(/<(script|link|img|iframe|object)\b/);
    expect(REPORT).not.toMatch(/\ssrc=|\sstyle=|@import|url\(/);
    const hrefs = [...REPORT.matchAll(/\shref="([^"]*)"/g)].map((m) => m[1]);
    expect(hrefs).toEqual(['#s1', '#s2', '#s3', '#s4']);
    expect(REPORT.match(/<style>/g)).toHaveLength(1);
  });

  it('client output is cleaned and escaped: no escape sequence, no control character, no raw markup', () => {
    expect(REPORT).not.toMatch(UNPRINTABLE);
    expect(REPORT).not.toContain('<b>');
    expect(REPORT).toContain(`<span class="stream">1 pty| </span><span class="text">残り1回 &lt;b&gt;&amp;amp; "q" 'a' ]]&gt; </span>`);
    expect(REPORT).toContain('<span class="text">PIN &lt;pin:auth&gt; rejected</span>');
  });

  it('the header says the run: target, harness version, time, duration, counts, exit code', () => {
    for (const [k, v] of [
      ['Target', 'sim'],
      ['Harness version', '0.1.0'],
      ['Started', '2026-12-01T09:30:00.000Z'],
      ['Duration', '1.30 s'],
      ['Scenarios', '1 passed, 1 failed, 1 not applicable, 1 errors'],
      ['Exit code', '1'],
    ]) {
      expect(REPORT).toContain(`<tr><th scope="row">${k}</th><td>${v}</td></tr>`);
    }
    expect(REPORT).toContain('<title>myna-hil run on sim, 2026-12-01T09:30:00.000Z</title>');
  });

  it('one section per file, one details per scenario with status, name, id and duration; failures open', () => {
    expect(REPORT.match(/<section class="file">/g)).toHaveLength(2);
    expect(REPORT).toContain(`<h2>${KIOSK}</h2>`);
    expect(REPORT).toContain(`<h2>${LAB}</h2>`);
    expect(REPORT).toContain(
      '<details class="scenario st-passed" id="s1">\n<summary><span class="status">passed</span> <span class="name">reads the auth certificate</span> <span class="id">[CLIENT-001]</span> <span class="duration">20 ms</span></summary>',
    );
    expect(REPORT).toContain(
      '<details class="scenario st-failed" id="s2" open="open">\n<summary><span class="status">FAILED</span> <span class="name">asks before the last try</span> <span class="id">[CLIENT-012]</span> <span class="duration">1.25 s</span></summary>',
    );
    expect(REPORT).toContain(
      `<details class="scenario st-error" id="s3" open="open">\n<summary><span class="status">ERROR</span> <span class="name">survives a reset</span> <span class="duration">7 ms</span></summary>\n<p class="where">${LAB}:6:5: <span class="message">pcscd stopped answering</span></p>`,
    );
    expect(REPORT).toContain(
      `<details class="scenario st-not-applicable" id="s4" open="open">\n<summary><span class="status">not applicable</span> <span class="name">kiosk over PC/SC</span> <span class="id">[KIOSK-003]</span> <span class="duration">0 ms</span></summary>\n<p class="where">${LAB}:12:3: <span class="message">needs pcscd: exec client "kiosk-cli" on target sim</span></p>`,
    );
    // steps with status, duration and message
    expect(REPORT).toContain(
      `<tr class="step-error"><td class="num">1</td><td>event</td><td>reset</td><td class="status">error</td><td class="num">5 ms</td><td>pcscd stopped answering</td><td class="where">${LAB}:6:5</td></tr>`,
    );
  });

  it('expectations: failed ones marked FAILED with expected and actual, the end-of-scenario one as "end"', () => {
    expect(REPORT.match(/<tr class="fail">/g)).toHaveLength(2);
    expect(REPORT).toContain(
      `<tr class="fail"><td class="num">1</td><td class="status">FAILED</td><td>exit</td><td class="value">3</td><td class="value">0</td><td class="where">${KIOSK}:28:13</td></tr>`,
    );
    expect(REPORT).toContain(
      `<tr class="fail"><td class="num">end</td><td class="status">FAILED</td><td>trace never</td><td class="value">no VERIFY with data after 63 C1</td><td class="value">00 20 00 80 &lt;redacted&gt; (VERIFY) answered 6983</td><td class="where">${KIOSK}:34:7</td></tr>`,
    );
    expect(REPORT).toContain(
      `<tr class="ok"><td class="num">1</td><td class="status">ok</td><td>stdout matches</td><td class="value">/残り1回/</td><td class="value">matched</td><td class="where">${KIOSK}:29:15</td></tr>`,
    );
  });

  it('the APDU trace as the events have it: redacted command, name, SW, bytes, time', () => {
    expect(REPORT).toContain('<h3>APDU trace (7, PIN data redacted)</h3>');
    expect(REPORT).toContain(
      '<tr><td class="num">1</td><td class="hex">00 20 00 80 &lt;redacted&gt;</td><td>VERIFY</td><td class="hex sw-other">6983</td><td class="num">0</td><td class="num">3 ms</td></tr>',
    );
    expect(REPORT).toContain(
      '<tr><td class="num">1</td><td class="hex">00 B0 00 00 00</td><td>READ BINARY</td><td class="hex">9000</td><td class="num">1200</td><td class="num">14 ms</td></tr>',
    );
  });

  it('PIN counters: before and after each step (as the runner reads them), changes marked, the end state', () => {
    const key = `${KIOSK}#1`;
    const state = (step: number | undefined, auth: number, locked = false): RunEvent => ({
      type: 'card-state',
      scenario: key,
      step,
      pins: { auth: { triesLeft: auth, max: 3, locked }, sign: { triesLeft: 5, max: 5, locked: false } },
    });
    // the runner's order: step-start, card-state before, the step's APDUs and output, card-state after
    const events = [...failed];
    events.splice(2, 0, state(1, 3));
    events.splice(events.length - 1, 0, state(undefined, 0, true));
    const html = htmlReport(RunRecord.of([runStart, ...events]));
    expect(html).toContain(
      [
        '<thead><tr><th scope="col">Step</th><th scope="col">When</th><th scope="col">sign tries left</th><th scope="col">auth tries left</th></tr></thead>',
        '<tbody>',
        '<tr><td class="num">1</td><td>before</td><td class="num">5/5</td><td class="num">3/3</td></tr>',
        '<tr><td class="num">1</td><td>after</td><td class="num">5/5</td><td class="num locked changed">0/3 locked *</td></tr>',
        '<tr><td class="num"></td><td>end</td><td class="num">5/5</td><td class="num locked">0/3 locked</td></tr>',
        '</tbody>',
      ].join('\n'),
    );
    // a step with no APDU or output: the second state is still "after"
    const quiet = htmlReport(RunRecord.of([runStart, passed[0]!, passed[1]!, state(1, 3), state(1, 2)].map((e) => ({ ...e, scenario: key }) as RunEvent)));
    expect(quiet).toContain('<td>before</td><td class="num">5/5</td><td class="num">3/3</td>');
    expect(quiet).toContain('<td>after</td><td class="num">5/5</td><td class="num changed">2/3 *</td>');
  });

  it('a run that stopped: the unfinished scenario is an error, no exit code, no duration', () => {
    const html = htmlReport(RunRecord.of([runStart, ...passed.slice(0, 3)]));
    expect(html).toContain(`<p class="where">${KIOSK}:3:1: <span class="message">${UNFINISHED_MESSAGE}</span></p>`);
    expect(html).toContain('<span class="status">ERROR</span>');
    expect(html).toContain('<tr><th scope="row">Exit code</th><td>none (the run stopped before its end)</td></tr>');
    expect(html).toContain('<tr class="step-unfinished"><td class="num">1</td>');
    expect(tagProblems(html)).toEqual([]);
  });

  it('property: no text in any event field breaks out of its element or the document', () => {
    fc.assert(
      fc.property(hostileText, hostileText, hostileText, (name, message, line) => {
        const html = htmlReport(RunRecord.of(hostileRun(name, message, line)));
        expect(tagProblems(html)).toEqual([]);
        expect(html).not.toMatch(UNPRINTABLE);
        expect(html).not.toMatch(/https?:\/\//);
      }),
      { numRuns: 300 },
    );
  });
});

/** One failed scenario whose every text field is `name`, `message` or `line`. */
function hostileRun(name: string, message: string, line: string): RunEvent[] {
  const file = `s/${name}.yaml`;
  const key = `${file}#0`;
  return [
    { ...runStart, target: message, harnessVersion: line },
    { type: 'scenario-start', scenario: key, file, name, id: line, where: `${file}:1:1` },
    { type: 'step-start', scenario: key, step: 1, kind: name, label: line, where: `${file}:2:3` },
    { type: 'apdu', scenario: key, step: 1, command: line, name, sw: message, responseBytes: 0, ms: 1 },
    { type: 'output', scenario: key, step: 1, stream: 'pty', line },
    { type: 'expectation', scenario: key, step: 1, what: name, passed: false, expected: message, actual: line, where: `${file}:3:5` },
    { type: 'step-end', scenario: key, step: 1, status: 'failed', message, durationMs: 1 },
    { type: 'scenario-end', scenario: key, status: 'failed', message, durationMs: 1 },
  ];
}

describeXmllint('report.html read back by xmllint (parsed as XML)', () => {
  it('the report parses, and reads back every scenario and the failed expectation', () => {
    expect(xmlProblems(REPORT)).toBe('');
    expect(xpathCount(REPORT, '//details[contains(@class, "scenario")]')).toBe(4);
    expect(xpathCount(REPORT, '//section[@class="file"]')).toBe(2);
    expect(xpathString(REPORT, '//details[@id="s2"]//tr[@class="fail"][1]/td[@class="value"][1]')).toBe('3');
    expect(xpathString(REPORT, '//details[@id="s2"]//tr[@class="fail"][1]/td[@class="value"][2]')).toBe('0');
    expect(xpathString(REPORT, '//details[@id="s2"]//pre[@class="output"]/span[1]/span[@class="text"]')).toBe(NASTY_LINE_CLEAN);
    expect(xpathCount(REPORT, '//b')).toBe(0);
    expect(xmlProblems(REPORT.replace('</table>', ''))).not.toBe('');
  });

  it('property: any text reads back as the cleaned text, inside the element it was put in', () => {
    fc.assert(
      fc.property(hostileText, hostileText, hostileText, (name, message, line) => {
        const html = htmlReport(RunRecord.of(hostileRun(name, message, line)));
        expect(xmlProblems(html)).toBe('');
        expect(xpathString(html, '//pre[@class="output"]/span/span[@class="text"]')).toBe(cleanText(line));
        expect(xpathCount(html, '//pre[@class="output"]/span/span')).toBe(2);
        expect(xpathString(html, '//summary/span[@class="name"]')).toBe(cleanLine(name));
        expect(xpathString(html, '//tr[@class="fail"]/td[@class="value"][1]')).toBe(cleanLine(message));
        expect(xpathString(html, '//tr[@class="fail"]/td[@class="value"][2]')).toBe(cleanLine(line));
        expect(xpathString(html, '//table[@class="apdus"]/tbody/tr/td[2]')).toBe(cleanLine(line));
        expect(xpathString(html, '//title')).toBe(cleanLine(`myna-hil run on ${message}, ${runStart.time}`));
      }),
      { numRuns: 40 },
    );
  });
});
