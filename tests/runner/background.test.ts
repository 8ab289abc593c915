/**
 * Background clients (`background: true`) and waits on a client: the scenario goes on while the client
 * runs, a wait polls its output or its end within a deadline, a card event lands while the client is
 * waiting, and the client's expectations are checked when it ends, before the final expectations.
 * Run on sim, with the real module kiosk (examples/kiosk) through the real driver, and with small
 * clients written here.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ClientRunInput } from '../../harness/clients/client.ts';
import { runClient } from '../../harness/clients/index.ts';
import type { ClientManifest, StepExpect } from '../../harness/scenario/model.ts';
import { waitFor } from '../support/wait.ts';
import { failures, located, result, run, scenario } from './fixtures.ts';

const examples = (path: string) => fileURLToPath(new URL(`../../examples/${path}`, import.meta.url));
const kioskManifest: ClientManifest = {
  file: examples('clients.yaml'),
  clients: {
    kiosk: { kind: 'module', module: examples('kiosk/module.ts'), export: 'run', timeoutMs: 10_000, where: 'clients.yaml:2:3' },
    'kiosk-faulty': { kind: 'module', module: examples('kiosk-faulty/module.ts'), export: 'run', timeoutMs: 10_000, where: 'clients.yaml:5:3' },
    silent: {
      kind: 'module',
      module: fileURLToPath(new URL('./clients/silent.ts', import.meta.url)),
      export: 'run',
      timeoutMs: 10_000,
      where: 'clients.yaml:8:3',
    },
  },
};
const AUTH_PROMPT = '利用者証明用電子証明書暗証番号';

const bgClient = (client: string, expect?: StepExpect, reply = '{pins.auth}') => ({
  kind: 'client' as const,
  client,
  background: true,
  answers: [{ prompt: AUTH_PROMPT, reply }],
  args: {},
  ...(expect && { expect }),
});
const waitClient = (c: { output?: { contains?: string[] }; exited?: true }, timeoutMs = 5000) => ({
  kind: 'wait' as const,
  until: { client: { step: 0, ...c } },
  timeoutMs,
});

describe('the real module kiosk in the background', () => {
  it('starts, the scenario goes on; its verdict and expectations come when it ends, before the final ones', async () => {
    const r = await run(
      [
        scenario({
          steps: [
            bgClient('kiosk', { exit: 0, stdout: { contains: ['署名しました'] }, card: { auth: { triesLeft: 3 } } }),
            waitClient({ output: { contains: ['署名しました'] }, exited: true }),
          ],
          expect: { trace: [{ contains: { ins: '20', data: true, sw: '9000' } }] },
        }),
      ],
      { manifest: kioskManifest, runClient },
    );
    expect(failures(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
    const story = r.events.flatMap((e) => {
      if (e.type === 'expectation') return [`${e.step ?? '-'} ${e.what}`];
      if (e.type === 'step-start') return [`step-start ${e.step}`];
      return e.type === 'step-end' ? [`step-end ${e.step} ${e.status}`] : [];
    });
    expect(story).toEqual([
      'step-start 0',
      'step-end 0 passed',
      'step-start 1',
      '1 wait: client kiosk output contains',
      '1 wait: client kiosk exited',
      'step-end 1 passed',
      '0 no PIN value in the output',
      '0 exit',
      '0 stdout contains',
      '0 card auth tries left',
      'step-end 0 passed',
      '- trace contains',
    ]);
    const ends = r.of('step-end').filter((e) => e.step === 0);
    expect(ends.map((e) => e.message)).toEqual(['started in the background; its expectations are checked when it ends', 'ended; its expectations passed']);
    expect(r.of('output').every((o) => o.step === 0)).toBe(true);
    expect(r.of('output').map((o) => o.line)).toContain('署名しました (signed)');
  });

  it('its failing expectations fail the scenario at its step, after the steps that followed it ran', async () => {
    const r = await run(
      [
        scenario({
          steps: [bgClient('kiosk', { exit: 0 }, '{pins.wrong.auth}'), waitClient({ exited: true })],
          expect: { card: { auth: { triesLeft: 2 } }, trace: [] },
        }),
      ],
      { manifest: kioskManifest, runClient },
    );
    expect(failures(r)).toEqual(['exit: 0 / 8']);
    expect(r.of('step-end').map((e) => `${e.step} ${e.status}`)).toEqual(['0 passed', '1 passed', '0 failed']);
    expect(r.of('scenario-end')[0]).toMatchObject({ status: 'failed', message: 'exit: expected 0, got 8', where: expect.stringMatching(/:5:5$/) });
    // the final expectations are not checked after a failure
    expect(r.of('expectation').some((e) => e.step === undefined)).toBe(false);
  });

  it('the PIN leak check still applies: the faulty kiosk prints the PIN, masked in every event', async () => {
    const r = await run([scenario({ steps: [bgClient('kiosk-faulty', { exit: 0 }), waitClient({ output: { contains: ['debug: VERIFY'] } })] })], {
      manifest: kioskManifest,
      runClient,
    });
    expect(failures(r)).toEqual([
      'no PIN value in the output: no PIN value of the run in stdout or stderr / the client printed a PIN value (masked in this report)',
    ]);
    const line = r.of('output').find((o) => o.line.startsWith('debug: VERIFY'));
    expect(line?.line).toBe('debug: VERIFY 利用者証明用暗証番号 (auth PIN) with "<pin:auth>"');
    expect(r.of('step-end').map((e) => `${e.step} ${e.status}`)).toEqual(['0 passed', '1 passed', '0 failed']);
  });
});

/**
 * A kiosk that shows its prompt and then waits for its answer, watching the card meanwhile: when the
 * card stops answering (removed) it says so and exits 6. It never gets an answer: the scenario removes
 * the card while it waits.
 */
async function watchingKiosk(input: ClientRunInput) {
  const ch = input.channel!;
  const select = Buffer.from('00A4040C0AD392F000260100000001', 'hex');
  const rsp = await ch.transmit(select);
  input.onLine?.('stdout', `select ${Buffer.from(rsp).toString('hex').toUpperCase()}`);
  input.onLine?.('stdout', 'PIN を入力してください');
  const removed = await waitFor(
    async () => {
      try {
        const r = await ch.transmit(select);
        return r.length < 2 ? 'short answer' : undefined;
      } catch (err) {
        return `no answer: ${(err as Error).message}`;
      }
    },
    { timeoutMs: 3000, what: 'the card to go' },
  ).catch(() => undefined);
  const line = removed ? 'カードが取り外されました (card removed)' : 'still waiting';
  input.onLine?.('stdout', line);
  return result({ exit: removed ? 6 : 0, stdout: `PIN を入力してください\n${line}\n` });
}

describe('waits on a client and card events while it runs', () => {
  it('wait for the prompt, remove the card while the client waits for its answer, then check what it did', async () => {
    const r = await run(
      [
        scenario({
          steps: [
            { kind: 'client', client: 'mod-client', background: true, answers: [], args: {}, expect: { exit: 6, stdout: { contains: ['card removed'] } } },
            waitClient({ output: { contains: ['PIN'] } }),
            { kind: 'event', event: { type: 'remove' } },
            waitClient({ exited: true }),
          ],
          expect: { trace: [{ count: { ins: 'A4', sw: '9000' }, min: 1 }] },
        }),
      ],
      { runClient: watchingKiosk },
    );
    expect(failures(r)).toEqual([]);
    expect(r.of('step-end').map((e) => `${e.step} ${e.status}`)).toEqual(['0 passed', '1 passed', '2 passed', '3 passed', '0 passed']);
    // the prompt was seen before the removal, the removal before the client ended
    const order = r.events.map((e) => (e.type === 'output' ? e.line : e.type === 'step-start' ? `step ${e.step}` : '')).filter(Boolean);
    expect(order.indexOf('PIN を入力してください')).toBeLessThan(order.indexOf('step 2'));
    expect(order.indexOf('step 2')).toBeLessThan(order.indexOf('カードが取り外されました (card removed)'));
  });

  it('a wait that times out fails naming the client and what it waited for; the client is still awaited to its own timeout', async () => {
    const r = await run(
      [
        scenario({
          steps: [
            { kind: 'client', client: 'silent', background: true, answers: [], args: {}, timeoutMs: 300 },
            { ...waitClient({ output: { contains: ['PIN'] } }, 50), name: 'wait for the PIN prompt' },
            { kind: 'event', event: { type: 'remove' } },
          ],
        }),
      ],
      { manifest: kioskManifest, runClient },
    );
    expect(failures(r)).toEqual([
      'wait: client silent output contains: PIN / starting after 50 ms',
      expect.stringMatching(/^ends within its timeout: ends within 300 ms \/ killed after \d+ ms$/),
    ]);
    expect(r.of('step-end').map((e) => `${e.step} ${e.status}`)).toEqual(['0 passed', '1 failed', '2 skipped', '0 failed']);
    expect(r.of('scenario-end')[0]).toMatchObject({ status: 'failed', message: 'wait: client silent output contains: expected PIN, got starting after 50 ms' });
  });

  it('a wait on output stops early when the client has ended without it', async () => {
    const r = await run(
      [
        scenario({
          steps: [{ kind: 'client', client: 'mod-client', background: true, answers: [], args: {} }, waitClient({ output: { contains: ['PIN'] } }, 5000)],
        }),
      ],
      {
        runClient: async (input) => {
          input.onLine?.('stdout', 'no card');
          return result({ exit: 6, stdout: 'no card\n' });
        },
      },
    );
    expect(failures(r)).toEqual(['wait: client mod-client output contains: PIN / no card (the client ended with exit 6)', 'exit: 0 / 6']);
    expect(r.of('step-end')[1].durationMs).toBeLessThan(4000);
  });

  it('a wait on a client step that is not a background one is an input error; a client that cannot start is an environment error', async () => {
    const notBg = await run([scenario({ steps: [{ kind: 'client', client: 'mod-client', answers: [], args: {} }, waitClient({ exited: true })] })]);
    expect(notBg.of('step-end')[1].status).toBe('error');
    expect(located(notBg.of('scenario-end')[0])).toMatch(
      /:6:5: wait on a client: step 0 is not a background client started before this wait; start one with background: true$/,
    );
    expect(notBg.exitCode).toBe(2);
    const cannot = await run([scenario({ steps: [{ kind: 'client', client: 'mod-client', background: true, answers: [], args: {} }] })], {
      runClient: async () => result({ startError: 'module ./client.ts does not exist' }),
    });
    expect(cannot.of('step-end').map((e) => `${e.step} ${e.status} ${e.message}`)).toEqual([
      '0 passed started in the background; its expectations are checked when it ends',
      '0 error client mod-client could not be started: module ./client.ts does not exist',
    ]);
    expect(located(cannot.of('scenario-end')[0])).toMatch(/:5:5: client mod-client could not be started: module \.\/client\.ts does not exist$/);
    expect(cannot.exitCode).toBe(3);
  });
});
