/**
 * The vpcd target against real pcscd + vpcd, on slot 1 (`Virtual PCD 00 01`) so the other PC/SC tests
 * keep slot 0: the runner's card in the reader, card actions and clients over PC/SC, events and faults,
 * the trace and counters seen directly. Gated by tests/support/pcsc-env.ts (skipped with the reason
 * when pcscd is down, failing under CI=true) and serialised by its machine-wide lock.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ClientRunInput } from '../../harness/clients/client.ts';
import { openPcsc } from '../../harness/pcsc/index.ts';
import type { Target } from '../../harness/targets/target.ts';
import { VPCD_CAPABILITIES, vpcdTarget } from '../../harness/targets/vpcd.ts';
import { VpcdTransport } from '../../simulator/transport/vpcd/index.ts';
import { testCard, testProfile } from '../support/card.ts';
import { acquirePcscLock, describePcsc } from '../support/pcsc-env.ts';
import { failures, result, run, scenario } from '../runner/fixtures.ts';

const READER = 'Virtual PCD 00 01';

/** An exec-like client: its own PC/SC context on `{reader}`, as a third-party program would have. */
async function pcscClient(input: ClientRunInput) {
  const ctx = await openPcsc();
  try {
    await ctx.waitForCard(input.vars.reader, 'present');
    const card = await ctx.connect(input.vars.reader);
    const select = await card.transmit(Buffer.from('00A4040C0AD392F000260100000001', 'hex'));
    await card.transmit(Buffer.from('00A4020C020018', 'hex'));
    const query = await card.transmit(Buffer.from('00200080', 'hex'));
    const line = `select ${Buffer.from(select).toString('hex')} query ${Buffer.from(query).toString('hex').toUpperCase()}`;
    input.onLine?.('stdout', line);
    return result({ stdout: `${line}\n` });
  } finally {
    await ctx.close();
  }
}

describePcsc('vpcd target (slot 1)', () => {
  let release: () => void;
  let target: Target;

  beforeAll(async () => {
    release = await acquirePcscLock();
    target = vpcdTarget({ slot: 1, profiles: testProfile });
  }, 300_000);

  afterAll(async () => {
    await target?.close();
    release?.();
  });

  // run() closes the target it is given at the end; each test gets a fresh one on the same slot
  const fresh = () => vpcdTarget({ slot: 1, profiles: testProfile });

  it('is ready when pcscd shows the slot, and can run exec clients', async () => {
    expect(await target.check()).toBeUndefined();
    expect(VPCD_CAPABILITIES.has('exec-clients')).toBe(true);
  });

  it('card actions go through PC/SC; the trace and counters are seen directly', async () => {
    const r = await run(
      [
        scenario({
          card: { pins: { auth: { triesLeft: 2 } } },
          steps: [
            { kind: 'card', action: { do: 'verify', pin: 'auth', value: '{pins.wrong.auth}' }, expect: { sw: '63C1', card: { auth: { triesLeft: 1 } } } },
            { kind: 'card', action: { do: 'read', app: 'jpki', ef: 'authCert' } },
          ],
          expect: {
            card: { auth: { triesLeft: 1 } },
            trace: [
              {
                inOrder: [
                  { ins: '20', data: true, sw: '63C1' },
                  { ins: 'B0', sw: '9000' },
                ],
              },
            ],
          },
        }),
      ],
      { target: fresh() },
    );
    expect(failures(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
  });

  it('an exec-style client finds the card by {reader}', async () => {
    const r = await run(
      [scenario({ steps: [{ kind: 'client', client: 'exec-client', answers: [], args: {}, expect: { stdout: { contains: ['query 63C3'] } } }] })],
      {
        target: fresh(),
        runClient: pcscClient,
      },
    );
    expect(failures(r)).toEqual([]);
    expect(r.inputs[0].vars.reader).toBe(READER);
    expect(r.exitCode).toBe(0);
    expect(r.of('apdu').map((a) => a.name)).toEqual(['SELECT', 'SELECT', 'VERIFY']);
  });

  it('remove and insert are seen by pcscd; power loss spends the try and the card comes back for the next step', async () => {
    const r = await run(
      [
        scenario({
          steps: [
            { kind: 'event', event: { type: 'remove' } },
            { kind: 'event', event: { type: 'insert' } },
            { kind: 'event', event: { type: 'power-loss-after-counter-write' } },
            { kind: 'card', action: { do: 'verify', pin: 'auth', value: '{pins.auth}' } },
            { kind: 'card', action: { do: 'query', pin: 'auth' }, expect: { sw: '63C2' } },
          ],
          expect: { card: { auth: { triesLeft: 2 } }, trace: [] },
        }),
      ],
      { target: fresh() },
    );
    expect(failures(r)).toEqual([]);
    expect(r.of('step-end').map((e) => e.status)).toEqual(['passed', 'passed', 'passed', 'passed', 'passed']);
  });

  it('refuses to prepare while another card is in the slot, naming it', async () => {
    const other = new VpcdTransport({ card: testCard(await testProfile()), slot: 1, logger: { info: () => {}, warn: () => {} } });
    const ctx = await openPcsc();
    await ctx.waitForCard(READER, 'absent'); // the previous test's card is out
    await other.start();
    await ctx.waitForCard(READER, 'present');
    await ctx.close();
    const t = vpcdTarget({ slot: 1, profiles: testProfile, presenceTimeoutMs: 1500 });
    try {
      await expect(t.prepare({}, '.')).rejects.toThrow(/another card is in "Virtual PCD 00 01" \(is a myna-hil serve or another run using vpcd slot 1\?\)/);
    } finally {
      await other.stop();
      await t.close();
    }
  });

  it('a failing expectation on vpcd names expected and actual', async () => {
    const r = await run([scenario({ steps: [{ kind: 'card', action: { do: 'query', pin: 'sign' }, expect: { sw: '63C3' } }] })], { target: fresh() });
    expect(failures(r)).toEqual(['sw: 63C3 / 63C5']);
  });
});
