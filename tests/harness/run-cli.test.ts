/**
 * `myna-hil run` as a user runs it: the example suite passes with the reference kiosk on the in-process
 * card and writes its reports; with the faulty kiosk's manifest the same suite fails exactly the
 * scenarios the faults break, each naming what broke; bad input is exit 2 with the file and place.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EVENTS_FORMAT, type RunEvent } from '../../harness/runner/events.ts';
import { cli } from '../support/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'myna-hil-run-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The scenario-end events of a run.jsonl, by scenario name. */
function verdicts(dir: string): Map<string, string> {
  const lines = readFileSync(join(dir, 'run.jsonl'), 'utf8').trim().split('\n');
  expect(JSON.parse(lines[0]).format).toBe(EVENTS_FORMAT);
  const events = lines.slice(1).map((l) => JSON.parse(l) as RunEvent);
  const names = new Map<string, string>();
  for (const e of events) if (e.type === 'scenario-start') names.set(e.scenario, e.name);
  const out = new Map<string, string>();
  for (const e of events) if (e.type === 'scenario-end') out.set(names.get(e.scenario)!, e.status);
  return out;
}

const SUITE_SIZE = 8;

describe('myna-hil run, the example suite on sim', () => {
  it('passes with the reference kiosk and writes the JSON Lines and JUnit reports', async () => {
    const out = join(work, 'good');
    const r = await cli('run', 'scenarios/examples', '--out', out);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`${SUITE_SIZE} passed, 0 failed, 0 not applicable, 0 errors`);
    const v = verdicts(out);
    expect(v.size).toBe(SUITE_SIZE);
    expect([...v.values()].every((s) => s === 'passed')).toBe(true);
    const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
    expect(junit.match(/<testcase /g)).toHaveLength(SUITE_SIZE);
    expect(junit).not.toMatch(/<failure|<error/);
  });

  it('fails exactly the scenarios the faulty kiosk breaks, each failure naming what broke', async () => {
    const out = join(work, 'faulty');
    const r = await cli('run', 'scenarios/examples', '--clients', 'scenarios/examples/clients-faulty.yaml', '--out', out);
    expect(r.code, r.stdout).toBe(1);
    const v = verdicts(out);
    // The one thing both kiosks do right: a card without a signature certificate is told apart.
    expect([...v].filter(([, s]) => s === 'passed').map(([n]) => n)).toEqual(['a card without a signature certificate is told apart before any PIN is asked']);
    expect([...v.values()].filter((s) => s === 'failed')).toHaveLength(SUITE_SIZE - 1);
    // printed its PIN (CLIENT-006): caught on every scenario that typed one, masked in the report
    expect(r.stdout).toContain('no PIN value in the output: expected no PIN value of the run in stdout or stderr, got the client printed a PIN value');
    // no query, no confirmation (CLIENT-012): the last try was spent
    expect(r.stdout).toMatch(/asks before spending the last auth PIN try[^\n]*\n(?:.*\n)*?.*exit: expected 4, got 3/);
    // retried until locked (CLIENT-013): three VERIFYs with data in the trace
    expect(r.stdout).toMatch(/> 00 20 00 80 <redacted> \(VERIFY\) < 63C0/);
    // lower-case sign password sent (CLIENT-003)
    expect(r.stdout).toMatch(/a lower-case sign password never reaches the card[^\n]*\n.*exit: expected 7, got 3/);
    const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
    expect(junit.match(/<failure /g)).toHaveLength(SUITE_SIZE - 1);
  });
});

describe('myna-hil run, bad input', () => {
  const suite = (name: string, text: string): string => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 's.yaml'), text);
    return dir;
  };

  it('an unquoted PIN is exit 2 with the file, line, column and "quote it", and nothing runs', async () => {
    const dir = suite('unquoted', 'version: 1\nname: x\nsteps:\n  - card: { verify: auth, value: 0123 }\n');
    const r = await cli('run', dir, '--out', join(dir, 'reports'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 's.yaml')}:4:34 steps[0].card.value: expected a string, not a number; quote it: '0123'`);
    expect(r.stdout).toBe('');
  });

  it('a profile file that does not exist is exit 2 naming it', async () => {
    const dir = suite('noprofile', 'version: 1\nname: x\ncard: { profile: missing.json }\nsteps:\n  - card: { query: auth }\n');
    const r = await cli('run', dir, '--out', join(dir, 'reports'), '--reporter', 'console');
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(join(dir, 'missing.json'));
  });

  it('a client the manifest does not bind is "not applicable", never passed', async () => {
    const dir = suite('unbound', 'version: 1\nname: x\nsteps:\n  - client: read-auth-cert\n');
    writeFileSync(join(dir, 'clients.yaml'), 'version: 1\nclients:\n  kiosk-sign:\n    module: { path: ../../examples/kiosk/module.ts }\n');
    const r = await cli('run', dir, '--out', join(dir, 'reports'), '--reporter', 'console');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('0 passed, 0 failed, 1 not applicable, 0 errors');
    expect(r.stdout).toContain('has no client "read-auth-cert"');
  });

  it('a directory with no scenario is exit 2', async () => {
    const dir = join(work, 'empty');
    mkdirSync(dir);
    const r = await cli('run', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no scenario files');
  });
});
