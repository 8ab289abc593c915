/**
 * The runner's side of the physical-card guard: a target that reports an unexpected counter drop after
 * a step (PreparedCard.checkDrop) or refuses a PIN command (an error with exit code 4) stops the whole
 * run: the scenario is an error, every later scenario is skipped, the exit code is 4. And the scenario's
 * `destructive` flag reaches the target.
 */
import { describe, expect, it } from 'vitest';
import type { ClientRunInput } from '../../harness/clients/client.ts';
import { consoleReporter } from '../../harness/reporters/console.ts';
import type { CardSetup } from '../../harness/scenario/model.ts';
import type { PreparedCard, Target } from '../../harness/targets/target.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { feed } from '../reporters/events.ts';
import { waitFor } from '../support/wait.ts';
import { result, run, scenario, sim } from './fixtures.ts';

class Refused extends Error {
  readonly exitCode = 4;
}

/** The sim target, with a hook into each prepared card. */
function wrapped(hook: (card: PreparedCard, flags?: { destructive: boolean }) => PreparedCard): { target: Target; flags: Array<boolean | undefined> } {
  const inner = sim();
  const flags: Array<boolean | undefined> = [];
  const target: Target = {
    kind: 'pcsc',
    capabilities: inner.capabilities,
    check: () => inner.check(),
    close: () => inner.close(),
    prepare: async (setup: CardSetup, baseDir: string, s?: { destructive: boolean }) => {
      flags.push(s?.destructive);
      return hook(await inner.prepare(setup, baseDir), s);
    },
  };
  return { target, flags };
}

describe('the guard stops the run', () => {
  it('an unexpected drop after a step: exit 4, that scenario an error naming the drop, the rest skipped', async () => {
    const { target } = wrapped((card) => ({
      ...card,
      checkDrop: (before, after) =>
        after.auth!.triesLeft < before.auth!.triesLeft ? new Refused('auth PIN dropped from 3 to 2 tries, which the scenario did not expect') : undefined,
    }));
    const r = await run(
      [
        scenario({
          name: 'spends a try',
          steps: [{ kind: 'card', action: { do: 'verify', pin: 'auth', value: '{pins.wrong.auth}' }, expect: { sw: '63C2' } }],
        }),
        scenario({ name: 'would run next', steps: [{ kind: 'card', action: { do: 'query', pin: 'auth' } }] }),
      ],
      { target },
    );
    expect(r.exitCode).toBe(4);
    const ends = r.of('scenario-end');
    expect(ends.map((e) => e.status)).toEqual(['error', 'skipped']);
    expect(ends[0].message).toContain('auth PIN dropped from 3 to 2 tries');
    expect(ends[1].message).toBe('not run: the guard stopped the run');
  });

  it('a background client that spends a try after the last step is caught when it ends: exit 4', async () => {
    let reads = 0; // counter reads: 2 per step (before, after)
    const { target } = wrapped((card) => ({
      ...card,
      counters: () => {
        reads++;
        return card.counters();
      },
      checkDrop: (before, after) => (after.auth!.triesLeft < before.auth!.triesLeft ? new Refused('auth PIN dropped from 3 to 2 tries') : undefined),
    }));
    const lateWrongVerify = async (input: ClientRunInput) => {
      await waitFor(() => reads >= 4, { what: 'the last step to end' });
      const send = (hex: string) => input.channel!.transmit(Buffer.from(hex, 'hex'));
      await send('00A4040C0AD392F000260100000001');
      await send('00A4020C020018');
      await send(`0020008004${Buffer.from(input.vars['pins.wrong.auth']).toString('hex')}`);
      return result();
    };
    const steps = [
      { kind: 'client' as const, client: 'mod-client', background: true, answers: [], args: {} },
      { kind: 'card' as const, action: { do: 'query' as const, pin: 'auth' as const } },
    ];
    const r = await run([scenario({ steps })], { target, runClient: lateWrongVerify });
    expect(r.exitCode).toBe(4);
    expect(r.of('step-end').map((e) => `${e.step} ${e.status}`)).toEqual(['0 passed', '1 passed', '0 error']);
    expect(r.of('scenario-end')[0]).toMatchObject({ status: 'error', message: expect.stringContaining('auth PIN dropped from 3 to 2 tries') });
  });

  it('a refused PIN command: exit 4 even when a later scenario would pass', async () => {
    const { target } = wrapped((card) => {
      const refusing: ApduChannel = {
        transmit: async (cmd) => {
          if (cmd[1] === 0x20 && cmd.length > 5) throw new Refused('guard refused: auth PIN has 1 try left');
          return card.channel.transmit(cmd);
        },
      };
      // the harness's card actions go through harnessChannel where the target has one
      return { ...card, channel: refusing, harnessChannel: refusing };
    });
    const r = await run([scenario({ steps: [{ kind: 'card', action: { do: 'verify', pin: 'auth', value: '{pins.auth}' } }] }), scenario({ steps: [] })], {
      target,
    });
    expect(r.exitCode).toBe(4);
    expect(r.of('scenario-end').map((e) => e.status)).toEqual(['error', 'skipped']);
    expect(r.of('scenario-end')[0].message).toContain('guard refused: auth PIN has 1 try left');
  });

  it('the refusal of a step is reported at the step once: the console line says its location once', async () => {
    const { target } = wrapped((card) => ({
      ...card,
      harnessChannel: { transmit: () => Promise.reject(new Refused('guard refused: auth PIN has 1 try left')) },
    }));
    const s = scenario({ steps: [{ kind: 'card', action: { do: 'verify', pin: 'auth', value: '{pins.auth}' } }] });
    const r = await run([s], { target });
    expect(r.of('scenario-end')[0]).toMatchObject({ where: s.steps[0].where, message: 'guard refused: auth PIN has 1 try left' });
    const { text } = await feed(consoleReporter, r.events);
    expect(text.split('\n')[1]).toBe(`      ${s.steps[0].where}: guard refused: auth PIN has 1 try left`);
  });

  it("a scenario's destructive flag reaches the target's prepare", async () => {
    const { target, flags } = wrapped((card) => card);
    await run([scenario({ destructive: true, steps: [] }), scenario({ steps: [] })], { target });
    expect(flags).toEqual([true, false]);
  });
});
