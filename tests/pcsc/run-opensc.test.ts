/**
 * The basics suite over real PC/SC with OpenSC as the client (scenarios/opensc/clients.yaml: pkcs15-tool
 * and pkcs11-tool of Debian's opensc 0.23, the PIN typed at pkcs11-tool's own prompt under a
 * pseudo-terminal), and with the reference kiosk's command line (scenarios/basics/clients-cli.yaml).
 * The verdicts are the finding: OpenSC reads the auth certificate with no VERIFY with data, signs after
 * exactly one VERIFY, and spends exactly one try on a wrong PIN; it FAILS "a locked auth PIN gets no
 * VERIFY with data" (it warns that the PIN is locked, asks for it anyway and sends it: the card answers
 * 69 84). The kiosk binds no read-auth-cert, so that scenario is not applicable to it.
 * Skipped with the reason when pcscd (or OpenSC) is missing, failing under CI=true.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { messageOf, RunRecord, statusOf } from '../../harness/reporters/collect.ts';
import { EVENTS_FORMAT, type RunEvent } from '../../harness/runner/events.ts';
import { cli } from '../support/cli.ts';
import { describeOpensc, openscMissing } from '../support/opensc.ts';
import { acquirePcscLock } from '../support/pcsc-env.ts';

const TOOLS = ['/usr/bin/pkcs15-tool', '/usr/bin/pkcs11-tool'];
const READ = 'reads the auth certificate without any VERIFY with data';
const SIGN = 'signs with the auth key after exactly one VERIFY with data, and the counter is back to 3';
const WRONG = 'a wrong auth PIN spends exactly one try, and pkcs15-tool shows the two left';
const LOCKED = 'a locked auth PIN gets no VERIFY with data';

/** Each scenario's verdict and message from a run.jsonl, by scenario name. */
function verdicts(dir: string): Map<string, { status: string; message?: string }> {
  const [header, ...lines] = readFileSync(join(dir, 'run.jsonl'), 'utf8').trim().split('\n');
  expect(JSON.parse(header!).format).toBe(EVENTS_FORMAT);
  const record = new RunRecord();
  for (const line of lines) record.add(JSON.parse(line) as RunEvent);
  return new Map([...record.scenarios.values()].map((s) => [s.name, { status: statusOf(s), message: messageOf(s) }]));
}

describeOpensc(TOOLS, 'myna-hil run --target vpcd, the basics suite with OpenSC and with the kiosk command line', () => {
  let release: () => void;
  const out = mkdtempSync(join(tmpdir(), 'myna-hil-run-opensc-'));
  beforeAll(async () => {
    const why = openscMissing(TOOLS);
    if (why) throw new Error(`OpenSC is needed: ${why}`);
    release = await acquirePcscLock();
  }, 300_000);
  afterAll(() => {
    release?.();
    rmSync(out, { recursive: true, force: true });
  });

  it('OpenSC passes the basics and its wrong-PIN scenario, and fails the locked PIN: it sends the PIN to a card it knows is locked', async () => {
    const dir = join(out, 'opensc');
    const r = await cli('run', 'scenarios/basics', 'scenarios/opensc', '--target', 'vpcd', '--clients', 'scenarios/opensc/clients.yaml', '--out', dir);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('3 passed, 1 failed, 0 not applicable, 0 errors');
    const v = verdicts(dir);
    expect([...v.keys()]).toEqual([READ, SIGN, WRONG, LOCKED]);
    for (const name of [READ, SIGN, WRONG]) expect(v.get(name), name).toEqual({ status: 'passed' });
    // The one failure is the trace: the VERIFY with data (its data redacted) that the locked card refused.
    expect(v.get(LOCKED)!.status).toBe('failed');
    expect(v.get(LOCKED)!.message).toMatch(/^trace never: expected no INS 20 with data, got #\d+ 00 20 00 80 <redacted> \(VERIFY\) → 6984$/);
  }, 120_000);

  it('the reference kiosk signs, and reading the certificate is not applicable to it (its manifest binds no read-auth-cert)', async () => {
    const dir = join(out, 'kiosk');
    const r = await cli('run', 'scenarios/basics', '--target', 'vpcd', '--clients', 'scenarios/basics/clients-cli.yaml', '--out', dir);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('1 passed, 0 failed, 1 not applicable, 0 errors');
    const v = verdicts(dir);
    expect(v.get(SIGN)).toEqual({ status: 'passed' });
    expect(v.get(READ)).toEqual({
      status: 'not-applicable',
      message: 'scenarios/basics/auth.yaml:18:9: the client manifest scenarios/basics/clients-cli.yaml has no client "read-auth-cert"',
    });
  }, 120_000);
});
