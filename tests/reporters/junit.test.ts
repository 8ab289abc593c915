import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { RunRecord } from '../../harness/reporters/collect.ts';
import { classname, junitReporter, junitXml, seconds, systemOut } from '../../harness/reporters/junit.ts';
import { cleanText } from '../../harness/reporters/text.ts';
import type { RunEvent } from '../../harness/runner/events.ts';
import { hostileText, UNPRINTABLE } from './arbitraries.ts';
import { failed, feed, KIOSK, LAB, NASTY_LINE_CLEAN, passed, RUN, runStart } from './events.ts';
import { describeXmllint, validateJunit, xpathCount, xpathString } from './xmllint.ts';

/** The report of events.ts's run, byte for byte (read and checked by hand; regenerate only on purpose). */
const EXPECTED = readFileSync(join(import.meta.dirname, 'fixtures/expected-junit.xml'), 'utf8');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('junit reporter', () => {
  it('writes <outDir>/junit.xml, byte for byte the expected document, and nothing else', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'myna-hil-junit-'));
    dirs.push(outDir);
    const { files } = await feed(junitReporter, RUN, { outDir });
    expect(files).toEqual([join(outDir, 'junit.xml')]);
    expect(readFileSync(files[0]!, 'utf8')).toBe(EXPECTED);
    expect(readdirSync(outDir)).toEqual(['junit.xml']);
  });

  it('the expected document says what the reporter promises', () => {
    // one suite per file, one case per scenario, in the order they ran
    expect(EXPECTED.match(/<testsuite /g)).toHaveLength(2);
    expect(EXPECTED).toContain(`<testsuite name="${KIOSK}" tests="2" failures="1" errors="0" skipped="0" time="1.270">`);
    expect(EXPECTED).toContain(`<testsuite name="${LAB}" tests="2" failures="0" errors="1" skipped="1" time="0.007">`);
    expect(EXPECTED).toContain('<testcase classname="scenarios.examples.kiosk" name="asks before the last try [CLIENT-012]" time="1.250">');
    expect(EXPECTED).toContain('<testcase classname="scenarios.lab.pcsc_only" name="survives a reset" time="0.007">');
    // exactly one failure, typed by the expectation, the first failed expectation as message
    expect(EXPECTED.match(/<failure /g)).toHaveLength(1);
    expect(EXPECTED).toContain(`<failure type="exit" message="${KIOSK}:28:13: exit: expected 3, got 0">`);
    expect(EXPECTED).toContain(`<error type="error" message="${LAB}:6:5: pcscd stopped answering">`);
    expect(EXPECTED).toContain('<skipped message="not applicable: needs pcscd: exec client &quot;kiosk-cli&quot; on target sim"/>');
    // client output cleaned and escaped: no ESC, BEL, BS or C1 left, XML specials as entities
    expect(EXPECTED).toContain(`  pty| 残り1回 &lt;b&gt;&amp;amp; "q" 'a' ]]&gt; \n`);
    expect(EXPECTED).not.toMatch(UNPRINTABLE);
    // the masked trace: VERIFY with data shows its header and <redacted> only
    expect(EXPECTED).toContain('  &gt; 00 20 00 80 &lt;redacted&gt; (VERIFY) &lt; 63C1, 0 bytes, 3 ms\n');
  });

  it('a scenario that never ended is an error; a failure without a failed expectation uses the scenario message', () => {
    const unfinished = junitXml(RunRecord.of([runStart, ...passed.slice(0, 3)]));
    expect(unfinished).toContain(`<error type="error" message="${KIOSK}:3:1: the run stopped before this scenario ended">`);
    const bare = junitXml(
      RunRecord.of([
        runStart,
        failed[0]!,
        { type: 'scenario-end', scenario: `${KIOSK}#1`, status: 'failed', message: 'the PIN appeared in stdout', where: `${KIOSK}:20:3`, durationMs: 4 },
      ]),
    );
    expect(bare).toContain(`<failure type="failure" message="${KIOSK}:20:3: the PIN appeared in stdout">${KIOSK}:20:3: the PIN appeared in stdout</failure>`);
    expect(bare).toContain('<testsuites name="myna-hil" tests="1" failures="1" errors="0" time="0.004">');
  });

  it('classnames are the path with dots, times plain decimal seconds', () => {
    expect(classname('scenarios/examples/kiosk.yaml')).toBe('scenarios.examples.kiosk');
    expect(classname('./scenarios\\win\\a.b.YML')).toBe('scenarios.win.a_b');
    expect(classname('/abs/x.yaml')).toBe('abs.x');
    expect(classname('')).toBe('scenarios');
    expect([0, 1, 12.6, 1250.4, 86_400_000, 1e15, 1e30, -3, Number.POSITIVE_INFINITY].map(seconds)).toEqual([
      '0.000',
      '0.001',
      '0.013',
      '1.250',
      '86400.000',
      '1000000000000.000',
      '9007199254740.990', // clamped: beyond 2^53 ms toFixed would print an exponent
      '0.000',
      '0.000',
    ]);
  });
});

describeXmllint('junit.xml against the JUnit schema (xmllint --schema tests/reporters/fixtures/junit.xsd)', () => {
  it('the expected document is valid', () => {
    const r = validateJunit(EXPECTED);
    expect(r.output).toContain('- validates');
    expect(r.ok).toBe(true);
  });

  it('the schema is not a rubber stamp: two verdicts, a missing name, an exponent time, skipped on <testsuites> are refused', () => {
    const bad = [
      EXPECTED.replace('<failure type="exit"', '<error type="x" message="y"/><failure type="exit"'),
      EXPECTED.replace('name="survives a reset" ', ''),
      EXPECTED.replace('time="0.007">\n      <error', 'time="7e-3">\n      <error'),
      EXPECTED.replace('<testsuites name="myna-hil"', '<testsuites skipped="1" name="myna-hil"'),
      EXPECTED.replace('<failure type="exit" ', '<failure '),
    ];
    for (const doc of bad) {
      expect(doc).not.toBe(EXPECTED);
      expect(validateJunit(doc).ok, doc.slice(0, 300)).toBe(false);
    }
  });

  it('xmllint reads back the counts, names and escaped texts', () => {
    expect(xpathCount(EXPECTED, '/testsuites/testsuite/testcase')).toBe(4);
    expect(xpathCount(EXPECTED, '//testcase[failure]')).toBe(1);
    expect(xpathCount(EXPECTED, '//testcase[skipped]')).toBe(1);
    expect(xpathString(EXPECTED, '//testcase[failure]/@name')).toBe('asks before the last try [CLIENT-012]');
    expect(xpathString(EXPECTED, '//skipped/@message')).toBe('not applicable: needs pcscd: exec client "kiosk-cli" on target sim');
    expect(xpathString(EXPECTED, '//testcase[failure]/system-out')).toContain(`pty| ${NASTY_LINE_CLEAN}\n`);
  });

  it('property: any text in any event field yields a valid document that reads back as the cleaned text', () => {
    fc.assert(
      fc.property(hostileText, hostileText, hostileText, (name, message, line) => {
        const file = `s/${name}.yaml`;
        const key = `${file}#0`;
        const events: RunEvent[] = [
          { ...runStart, target: message },
          { type: 'scenario-start', scenario: key, file, name, id: line, where: `${file}:1:1` },
          { type: 'step-start', scenario: key, step: 1, kind: 'client', label: name, where: `${file}:2:3` },
          { type: 'output', scenario: key, step: 1, stream: 'pty', line },
          { type: 'expectation', scenario: key, step: 1, what: name, passed: false, expected: message, actual: line, where: `${file}:3:5` },
          { type: 'scenario-end', scenario: key, status: 'failed', message, durationMs: 1 },
        ];
        const run = RunRecord.of(events);
        const xml = junitXml(run);
        const r = validateJunit(xml);
        expect(r.ok, r.output).toBe(true);
        expect(xpathString(xml, '//testcase/@name')).toBe(cleanText(line ? `${name} [${line}]` : name));
        expect(xpathString(xml, '//testsuite/@name')).toBe(cleanText(file));
        expect(xpathString(xml, '//failure/@message')).toBe(cleanText(`${file}:3:5: ${name}: expected ${message}, got ${line}`));
        expect(xpathString(xml, '//system-out')).toBe(cleanText(systemOut(run.scenarios.get(key)!.events)));
      }),
      { numRuns: 40 },
    );
  });
});
