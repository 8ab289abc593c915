/**
 * The example suite over real PC/SC: `myna-hil run --target vpcd` serves each scenario's card into
 * pcscd's `Virtual PCD 00 01`, and the kiosk command line (an exec client under a pseudo-terminal, reading
 * its PIN with echo off) finds it there. The reference kiosk passes every scenario; its faulty twin fails
 * all but the one both do right. Skipped with the reason when pcscd is down, failing under CI=true.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';
import { acquirePcscLock, describePcsc } from '../support/pcsc-env.ts';

describePcsc('myna-hil run --target vpcd, the example suite with the kiosk command line', () => {
  let release: () => void;
  const out = mkdtempSync(join(tmpdir(), 'myna-hil-run-vpcd-'));
  beforeAll(async () => {
    release = await acquirePcscLock();
  }, 300_000);
  afterAll(() => {
    release?.();
    rmSync(out, { recursive: true, force: true });
  });

  it('the reference kiosk passes every scenario', async () => {
    const r = await cli('run', 'scenarios/examples', '--target', 'vpcd', '--clients', 'scenarios/examples/clients-cli.yaml', '--out', join(out, 'good'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('8 passed, 0 failed, 0 not applicable, 0 errors');
    expect(readFileSync(join(out, 'good', 'run.jsonl'), 'utf8')).toContain('"target":"vpcd"');
  }, 120_000);

  it('the faulty kiosk fails all but the scenario both do right', async () => {
    const r = await cli(
      'run',
      'scenarios/examples',
      '--target',
      'vpcd',
      '--clients',
      'scenarios/examples/clients-cli-faulty.yaml',
      '--out',
      join(out, 'faulty'),
    );
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('1 passed, 7 failed, 0 not applicable, 0 errors');
    expect(r.stdout).toMatch(/^PASS {2}a card without a signature certificate is told apart/m);
  }, 120_000);
});
