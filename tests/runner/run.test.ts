/**
 * The runner on the sim target: every step kind, event kind and expectation kind with a passing and a
 * failing case, not applicable, the PIN leak check, event order and the exit code.
 */
import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../harness/runner/run.ts';
import type { CardAction, CardEvent, StepExpect, TraceExpect } from '../../harness/scenario/model.ts';
import { failures, limited, located, manifest, result, run, scenario, sim } from './fixtures.ts';

const card = (action: CardAction, expect?: StepExpect) => ({ kind: 'card' as const, action, expect });
const event = (e: CardEvent) => ({ kind: 'event' as const, event: e });

describe('card actions', () => {
  it('verify with the run PIN passes; the wrong value fails naming 9000 against 63C2', async () => {
    const ok = await run([scenario({ steps: [card({ do: 'verify', pin: 'auth', value: '{pins.auth}' }, { sw: '9000', card: { auth: { triesLeft: 3 } } })] })]);
    expect(failures(ok)).toEqual([]);
    expect(ok.exitCode).toBe(0);
    const bad = await run([scenario({ steps: [card({ do: 'verify', pin: 'auth', value: '{pins.wrong.auth}' }, { sw: '9000' })] })]);
    expect(failures(bad)).toEqual(['sw: 9000 / 63C2']);
    expect(bad.of('scenario-end')[0]).toMatchObject({ status: 'failed', where: expect.stringMatching(/:5:5$/) });
    expect(bad.exitCode).toBe(1);
  });

  it('query expects 63Cx and verify 9000 by default; card.pins sets the starting counter', async () => {
    const r = await run([scenario({ card: { pins: { auth: { triesLeft: 1 } } }, steps: [card({ do: 'query', pin: 'auth' }, { sw: '63C1' })] })]);
    expect(failures(r)).toEqual([]);
    const d = await run([
      scenario({
        card: { pins: { sign: { triesLeft: 0 } } },
        steps: [card({ do: 'query', pin: 'sign' }), card({ do: 'verify', pin: 'sign', value: '{pins.sign}' })],
      }),
    ]);
    expect(failures(d)).toEqual(['sw (default): 9000 / 6984']);
    expect(d.of('expectation')[0]).toMatchObject({ what: 'sw (default)', passed: true, actual: '63C0' });
  });

  it('select, read (chunked), sign, change and a raw APDU', async () => {
    const r = await run([
      scenario({
        steps: [
          card({ do: 'select', app: 'juki' }),
          card({ do: 'read', app: 'jpki', ef: 'authCert' }),
          card({ do: 'sign', key: 'auth', value: '{pins.auth}', data: '0102' }),
          card({ do: 'change', pin: 'kenmen', value: '{pins.kenmen}', newValue: '0000' }),
          card({ do: 'verify', pin: 'kenmen', value: '0000' }),
          card({ do: 'apdu', hex: '00A4040C0AD392F000260100000001' }),
        ],
        expect: {
          trace: [
            {
              inOrder: [
                { ins: 'B0', sw: '9000' },
                { cla: '80', ins: '2A', sw: '9000' },
                { ins: '24', data: true, sw: '9000' },
              ],
            },
          ],
        },
      }),
    ]);
    expect(failures(r)).toEqual([]);
    const ends = r.of('step-end');
    expect(ends.map((e) => e.status)).toEqual(['passed', 'passed', 'passed', 'passed', 'passed', 'passed']);
    expect(ends[1].message).toMatch(/^read \d{3,4} bytes$/);
    expect(ends[2].message).toBe('signature of 256 bytes');
    // the read went in 256-byte chunks, the last one short
    const reads = r.of('apdu').filter((a) => a.step === 1 && a.name === 'READ BINARY');
    expect(reads.length).toBeGreaterThan(1);
    expect(reads.slice(0, -1).every((a) => a.responseBytes === 256)).toBe(true);
  });

  it('read of an unknown EF name is an input error (exit 2) naming the place', async () => {
    const r = await run([scenario({ steps: [card({ do: 'read', app: 'jpki', ef: 'nope' })] })]);
    expect(r.of('step-end')[0]).toMatchObject({ status: 'error', message: expect.stringMatching(/^ef "nope" is not a file of jpki/) });
    expect(located(r.of('scenario-end')[0])).toMatch(/^scenarios\/test-\d+\.yaml:5:5: ef "nope" is not a file of jpki/);
    expect(r.exitCode).toBe(2);
  });

  it('a spec flow passes on a fresh card; its failed checks are expectation events', async () => {
    const ok = await run([scenario({ steps: [card({ do: 'flow', flow: '11.1' })] })]);
    expect(failures(ok)).toEqual([]);
    expect(ok.of('expectation').filter((e) => e.what.startsWith('flow 11.1:')).length).toBeGreaterThan(2);
    const locked = await run([scenario({ card: { pins: { auth: { triesLeft: 0 } } }, steps: [card({ do: 'flow', flow: '11.1' })] })]);
    expect(failures(locked).length).toBeGreaterThan(0);
    expect(locked.exitCode).toBe(1);
  });
});

describe('events and faults', () => {
  it('remove: the card does not answer (expected after the event); insert brings it back; reset works', async () => {
    const r = await run([
      scenario({
        steps: [
          event({ type: 'remove' }),
          card({ do: 'query', pin: 'auth' }),
          event({ type: 'insert' }),
          event({ type: 'reset' }),
          card({ do: 'query', pin: 'auth' }, { sw: '63C3' }),
        ],
      }),
    ]);
    expect(failures(r)).toEqual([]);
    expect(r.of('expectation').find((e) => e.what === 'no answer after the injected fault')?.actual).toMatch(/not in the reader/);
  });

  it('reset ends the card session: the sign password re-initialisation needs the auth PIN verified again', async () => {
    const steps = (reset: boolean) => [
      card({ do: 'verify', pin: 'auth', value: '{pins.auth}' }),
      ...(reset ? [event({ type: 'reset' })] : []),
      { kind: 'issuer' as const, action: 'reinit-sign-password' as const, value: 'NEW123' },
    ];
    expect(failures(await run([scenario({ steps: steps(false) })]))).toEqual([]);
    expect(failures(await run([scenario({ steps: steps(true) })]))).toEqual([expect.stringMatching(/^issuer reinit-sign-password: done \/ refused/)]);
  });

  it('a card action to an absent card without a removal event fails with "the card answers"', async () => {
    const r = await run([scenario({ steps: [event({ type: 'cut-response', bytes: 1 }), card({ do: 'select', app: 'jpki' })] })]);
    expect(failures(r)).toEqual(['the card answers: SW 9000 / no answer (a response of 1 bytes has no status word)']);
  });

  it('latency per INS shows in the duration; a max bound below it fails', async () => {
    const slow = (max?: number) =>
      scenario({ steps: [event({ type: 'latency', ms: 40, ins: '20' }), card({ do: 'query', pin: 'auth' }, { durationMs: { min: 40, max } })] });
    const ok = await run([slow()]);
    expect(failures(ok)).toEqual([]);
    const apdus = ok.of('apdu');
    expect(apdus.find((a) => a.name === 'VERIFY')!.ms).toBeGreaterThanOrEqual(40);
    expect(apdus.find((a) => a.name === 'SELECT')!.ms).toBeLessThan(40);
    const bad = await run([slow(1)]);
    expect(failures(bad)).toEqual([expect.stringMatching(/^duration at most: ≤ 1 ms \/ \d+ ms$/)]);
  });

  it('inject-sw answers the matching command once without reaching the card', async () => {
    const r = await run([
      scenario({
        steps: [
          event({ type: 'inject-sw', sw: '6A82', match: { ins: '20' }, times: 1 }),
          card({ do: 'verify', pin: 'auth', value: '{pins.wrong.auth}' }, { sw: '6A82', card: { auth: { triesLeft: 3 } } }),
          card({ do: 'query', pin: 'auth' }, { sw: '63C3' }),
        ],
      }),
    ]);
    expect(failures(r)).toEqual([]);
  });

  it('power loss after the counter write: no answer, and the try is spent', async () => {
    const r = await run([
      scenario({
        steps: [event({ type: 'power-loss-after-counter-write' }), card({ do: 'verify', pin: 'auth', value: '{pins.auth}' })],
        expect: { card: { auth: { triesLeft: 2, locked: false } }, trace: [{ count: { ins: '20', data: true }, min: 1, max: 1 }] },
      }),
    ]);
    expect(failures(r)).toEqual([]);
    const bad = await run([
      scenario({
        steps: [event({ type: 'power-loss-after-counter-write' }), card({ do: 'verify', pin: 'auth', value: '{pins.auth}' })],
        expect: { card: { auth: { triesLeft: 3 } }, trace: [] },
      }),
    ]);
    expect(failures(bad)).toEqual(['card auth tries left: 3 / 2']);
  });

  it('a target without fault capability makes the scenario not applicable, never passed', async () => {
    const r = await run([scenario({ steps: [event({ type: 'latency', ms: 1 })] })], { target: limited(sim(), new Set(['events'])) });
    expect(r.of('scenario-end')[0]).toMatchObject({ status: 'not-applicable', message: expect.stringContaining('cannot inject faults') });
    expect(r.of('step-start')).toEqual([]);
    expect(r.exitCode).toBe(0);
  });

  it('set-counter and behaviour need their capabilities', async () => {
    const t = limited(sim(), new Set());
    const a = await run([scenario({ card: { pins: { auth: { triesLeft: 1 } } }, steps: [] })], { target: t });
    expect(a.of('scenario-end')[0].message).toMatch(/cannot set a PIN counter/);
    const b = await run([scenario({ card: { behaviour: { maxTries: { auth: 5 } } }, steps: [] })], { target: t });
    expect(b.of('scenario-end')[0].message).toMatch(/cannot override behaviour/);
    const c = await run([scenario({ steps: [{ kind: 'issuer', action: 'reset-counter', pin: 'auth' }] })], { target: t });
    expect(c.of('scenario-end')[0].message).toMatch(/cannot run issuer actions/);
  });
});

describe('final trace expectations on sim, each kind passing and failing', () => {
  const wrongThenQuery = [card({ do: 'verify', pin: 'auth', value: '{pins.wrong.auth}' }, { sw: '63C2' }), card({ do: 'query', pin: 'auth' }, { sw: '63C2' })];
  const cases: Array<[string, TraceExpect, TraceExpect, string]> = [
    [
      'contains',
      { contains: { ins: '20', data: false, sw: '63C2' } },
      { contains: { cla: '80', ins: '2A' } },
      'trace contains: CLA 80 INS 2A / none of 6 exchanges matches',
    ],
    ['never', { never: { ins: '24' } }, { never: { ins: '20', sw: '63C2' } }, 'trace never: no INS 20 SW 63C2 / #3 00 20 00 80 <redacted> (VERIFY) → 63C2'],
    [
      'inOrder',
      {
        inOrder: [
          { ins: '20', data: true },
          { ins: '20', data: false },
        ],
      },
      {
        inOrder: [
          { ins: '20', data: false },
          { ins: '20', data: true },
        ],
      },
      'trace in order: INS 20 without data, then INS 20 with data / matched 1 of 2; no INS 20 with data after #6 00 20 00 80 (VERIFY) → 63C2',
    ],
    ['count', { count: { ins: 'A4' }, min: 4, max: 4 }, { count: { ins: 'A4' }, max: 2 }, 'trace count: at most 2 × INS A4 / 4'],
    [
      'noneAfter',
      // biome-ignore lint/suspicious/noThenProperty: the model's field is named `then`
      { noneAfter: { after: { ins: '20', data: false }, then: { ins: '20', data: true } } },
      // biome-ignore lint/suspicious/noThenProperty: the model's field is named `then`
      { noneAfter: { after: { ins: '20', sw: '63C2' }, then: { ins: '20' } } },
      'trace none after: no INS 20 after INS 20 SW 63C2 / #6 00 20 00 80 (VERIFY) → 63C2 after #3 00 20 00 80 <redacted> (VERIFY) → 63C2',
    ],
  ];
  for (const [kind, pass, fail, failure] of cases) {
    it(kind, async () => {
      const ok = await run([scenario({ steps: wrongThenQuery, expect: { trace: [pass] } })]);
      expect(failures(ok)).toEqual([]);
      const bad = await run([scenario({ steps: wrongThenQuery, expect: { trace: [fail] } })]);
      expect(failures(bad)).toEqual([failure]);
      expect(bad.of('scenario-end')[0]).toMatchObject({ status: 'failed', where: expect.stringMatching(/:1:1$/) });
    });
  }
});

describe('card set-up', () => {
  it('behaviour overrides reach the card; a bad one is an input error (exit 2)', async () => {
    const ok = await run([scenario({ card: { behaviour: { maxTries: { auth: 5 } } }, steps: [card({ do: 'query', pin: 'auth' }, { sw: '63C5' })] })]);
    expect(failures(ok)).toEqual([]);
    expect(ok.of('card-state')[0].pins.auth).toEqual({ triesLeft: 5, max: 5, locked: false });
    const bad = await run([scenario({ card: { behaviour: { maxTries: { auth: 99 } } }, steps: [] })]);
    expect(bad.of('scenario-end')[0].status).toBe('error');
    expect(located(bad.of('scenario-end')[0])).toMatch(/^scenarios\/test-\d+\.yaml:1:1: card\.behaviour\.maxTries\.auth: /);
    expect(bad.exitCode).toBe(2);
  });

  it('a tries-left above the maximum is an input error', async () => {
    const r = await run([scenario({ card: { pins: { auth: { triesLeft: 4 } } }, steps: [] })]);
    expect(r.of('scenario-end')[0].message).toMatch(/card.pins.auth.triesLeft: 4 is above the auth PIN's maximum of 3/);
    expect(r.exitCode).toBe(2);
  });

  it('PIN values are random per scenario, valid, and never the generator defaults', async () => {
    const seen: string[] = [];
    const mod = {
      runClient: async (i: { vars: Record<string, string> }) => {
        seen.push(i.vars['pins.auth'], i.vars['pins.sign']);
        return result();
      },
    };
    const s = () => scenario({ steps: [{ kind: 'client', client: 'mod-client', answers: [], args: {} }] });
    await run([s(), s(), s()], mod);
    const auth = seen.filter((_, i) => i % 2 === 0);
    const sign = seen.filter((_, i) => i % 2 === 1);
    expect(auth.every((v) => /^\d{4}$/.test(v))).toBe(true);
    expect(sign.every((v) => /^[A-Z0-9]{8}$/.test(v) && /\d/.test(v) && /[A-Z]/.test(v))).toBe(true);
    const profile = await (await import('../support/card.ts')).testProfile();
    expect(sign).not.toContain(profile.pins.sign.value);
    expect(new Set(sign).size).toBe(3);
  });
});

describe('issuer and wait steps', () => {
  it('reset-counter after a wrong entry restores the counter; set-pin changes the value {pins.x} expands to', async () => {
    const r = await run([
      scenario({
        steps: [
          card({ do: 'verify', pin: 'auth', value: '{pins.wrong.auth}' }, { sw: '63C2' }),
          { kind: 'issuer', action: 'reset-counter', pin: 'auth', expect: { card: { auth: { triesLeft: 3 } } } },
          { kind: 'issuer', action: 'set-pin', pin: 'auth', value: '{pins.wrong.auth}' },
          card({ do: 'verify', pin: 'auth', value: '{pins.auth}' }, { sw: '9000' }),
        ],
      }),
    ]);
    expect(failures(r)).toEqual([]);
  });

  it('reinit-sign-password without a verified auth PIN is refused (a failure); after VERIFY auth it works', async () => {
    const bad = await run([scenario({ steps: [{ kind: 'issuer', action: 'reinit-sign-password', value: 'NEW123' }] })]);
    expect(failures(bad)).toEqual([expect.stringMatching(/^issuer reinit-sign-password: done \/ refused: .*auth PIN was verified/)]);
    const ok = await run([
      scenario({
        steps: [
          card({ do: 'verify', pin: 'auth', value: '{pins.auth}' }),
          { kind: 'issuer', action: 'reinit-sign-password', value: 'NEW123' },
          card({ do: 'verify', pin: 'sign', value: 'NEW123' }, { sw: '9000' }),
        ],
      }),
    ]);
    expect(failures(ok)).toEqual([]);
  });

  it('wait on the card passes when the condition holds; fails with the last actual after the deadline', async () => {
    const ok = await run([scenario({ steps: [{ kind: 'wait', until: { card: { auth: { triesLeft: 3 } } }, timeoutMs: 1000 }] })]);
    expect(failures(ok)).toEqual([]);
    const bad = await run([scenario({ steps: [{ kind: 'wait', until: { trace: { contains: { ins: '20' } } }, timeoutMs: 30 }] })]);
    expect(failures(bad)).toEqual(['wait: trace contains: INS 20 / none of 0 exchanges matches after 30 ms']);
  });
});

describe('clients', () => {
  /** A module-like client: asks for the PIN, sends it through the channel it got, logs the tries. */
  const moduleClient = async (input: import('../../harness/clients/client.ts').ClientRunInput) => {
    const ch = input.channel!;
    await ch.transmit(Buffer.from('00A4040C0AD392F000260100000001', 'hex'));
    await ch.transmit(Buffer.from('00A4020C020018', 'hex'));
    const pin = input.answers.find((a) => a.prompt === 'PIN')!.reply;
    const rsp = await ch.transmit(Buffer.from(`0020008004${Buffer.from(pin).toString('hex')}`, 'hex'));
    const line = `verify answered ${Buffer.from(rsp).toString('hex').toUpperCase()}`;
    input.onLine?.('stdout', line);
    return result({ exit: rsp[0] === 0x90 ? 0 : 1, stdout: `${line}\n` });
  };

  it('a module client gets the channel, the expanded answers and its APDUs are in the step', async () => {
    const s = (reply: string) =>
      scenario({
        steps: [
          {
            kind: 'client',
            client: 'mod-client',
            answers: [{ prompt: 'PIN', reply }],
            args: {},
            expect: { stdout: { contains: ['9000'], notContains: ['63C'], matches: 'verify answered \\d{4}' } },
          },
        ],
      });
    const ok = await run([s('{pins.auth}')], { runClient: moduleClient });
    expect(failures(ok)).toEqual([]);
    expect(ok.of('output')).toEqual([{ type: 'output', scenario: expect.any(String), step: 0, stream: 'stdout', line: 'verify answered 9000' }]);
    expect(ok.of('apdu').map((a) => a.command)).toContain('00 20 00 80 <redacted>');
    const bad = await run([s('{pins.wrong.auth}')], { runClient: moduleClient });
    expect(failures(bad)).toEqual([
      'exit: 0 / 1',
      'stdout contains: 9000 / verify answered 63C2',
      'stdout does not contain: not 63C / found in line 1: verify answered 63C2',
      'stdout matches: /verify answered \\d{4}/u / verify answered 63C2',
    ]);
  });

  it('a client that prints a PIN fails the step, and the value is masked in every event', async () => {
    let pin = '';
    const leaky = async (i: import('../../harness/clients/client.ts').ClientRunInput) => {
      pin = i.vars['pins.sign'];
      i.onLine?.('stdout', `debug: pin=${pin}`);
      return result({ stdout: i.mask(`debug: pin=${pin}\n`), leakedPin: true });
    };
    const r = await run(
      [scenario({ steps: [{ kind: 'client', client: 'mod-client', answers: [], args: {}, expect: { stdout: { contains: ['nothing'] } } }] })],
      { runClient: leaky },
    );
    expect(failures(r)).toEqual([
      'no PIN value in the output: no PIN value of the run in stdout or stderr / the client printed a PIN value (masked in this report)',
      'stdout contains: nothing / debug: pin=<pin:sign>',
    ]);
    expect(pin).toMatch(/^[A-Z0-9]{8}$/);
    expect(JSON.stringify(r.events)).not.toContain(pin);
    expect(r.of('output')[0].line).toBe('debug: pin=<pin:sign>');
  });

  it('stderr expectations', async () => {
    const s = scenario({
      steps: [{ kind: 'client', client: 'mod-client', answers: [], args: {}, expect: { stderr: { contains: ['warn'], notContains: ['fatal'] } } }],
    });
    expect(failures(await run([s], { runClient: async () => result({ stderr: 'warn: slow reader\n' }) }))).toEqual([]);
    expect(failures(await run([s], { runClient: async () => result({ stderr: 'fatal: no card\n' }) }))).toEqual([
      'stderr contains: warn / fatal: no card',
      'stderr does not contain: not fatal / found in line 1: fatal: no card',
    ]);
  });

  it('the PIN check runs on every client step, passing when nothing leaked', async () => {
    const r = await run([scenario({ steps: [{ kind: 'client', client: 'mod-client', answers: [], args: {} }] })]);
    expect(r.of('expectation').map((e) => [e.what, e.passed])).toEqual([
      ['no PIN value in the output', true],
      ['exit', true],
    ]);
  });

  it('args and env templates are expanded; an unknown template is an input error', async () => {
    const r = await run(
      [scenario({ steps: [{ kind: 'client', client: 'mod-client', answers: [{ prompt: 'x', reply: '{env.MYNA_T}' }], args: { n: '{args0}' } }] })],
      {
        env: { MYNA_T: 'v1' },
      },
    );
    expect(r.of('step-end')[0]).toMatchObject({ status: 'error', message: expect.stringContaining('template {args0} has no value') });
    expect(r.exitCode).toBe(2);
    const ok = await run(
      [scenario({ steps: [{ kind: 'client', client: 'mod-client', answers: [{ prompt: 'x', reply: '{env.MYNA_T}' }], args: { n: '{workDir}' } }] })],
      {
        env: { MYNA_T: 'v1' },
      },
    );
    expect(ok.inputs[0].answers).toEqual([{ prompt: 'x', reply: 'v1' }]);
    expect(ok.inputs[0].vars['args.n']).toBe(ok.inputs[0].vars.workDir);
    expect(ok.inputs[0].vars.challengeFile).toMatch(/challenge\.bin$/);
    expect(ok.inputs[0].channel).toBeDefined();
  });

  it('the challenge file holds 32 random bytes, new for each scenario', async () => {
    const { readFileSync } = await import('node:fs');
    const seen: string[] = [];
    const s = () => scenario({ steps: [{ kind: 'client', client: 'mod-client', answers: [], args: {} }] });
    const runClient = async (i: { vars: Record<string, string> }) => {
      seen.push(readFileSync(i.vars.challengeFile).toString('hex'));
      return result();
    };
    await run([s(), s()], { runClient });
    expect(seen.map((h) => h.length)).toEqual([64, 64]);
    expect(seen[0]).not.toBe(seen[1]);
  });

  it('timeout, a non-zero exit without expect.exit, and a client that cannot start (exit 3)', async () => {
    const s = () => scenario({ steps: [{ kind: 'client', client: 'mod-client', answers: [], args: {}, timeoutMs: 50 }] });
    const t = await run([s()], { runClient: async () => result({ exit: null, timedOut: true, durationMs: 52 }) });
    expect(failures(t)).toEqual(['ends within its timeout: ends within 50 ms / killed after 52 ms']);
    const bindingTimeout = await run([scenario({ steps: [{ kind: 'client', client: 'mod-client', answers: [], args: {} }] })], {
      runClient: async (i) => result({ exit: null, timedOut: true, durationMs: i.timeoutMs }),
    });
    expect(failures(bindingTimeout)).toEqual(['ends within its timeout: ends within 5000 ms / killed after 5000 ms']);
    const e = await run([s()], { runClient: async () => result({ exit: 2 }) });
    expect(failures(e)).toEqual(['exit: 0 / 2']);
    const x = await run([s()], { runClient: async () => result({ exit: null, startError: 'spawn kiosk ENOENT' }) });
    expect(x.of('scenario-end')[0].status).toBe('error');
    expect(located(x.of('scenario-end')[0])).toMatch(/^scenarios\/test-\d+\.yaml:5:5: client mod-client could not be started: spawn kiosk ENOENT$/);
    expect(x.exitCode).toBe(3);
  });

  it('an exec client on sim, a client the manifest lacks, and no manifest are not applicable', async () => {
    const s = (client: string) => scenario({ steps: [{ kind: 'client', client, answers: [], args: {} }] });
    const r = await run([s('exec-client'), s('missing')]);
    expect(r.of('scenario-end').map((e) => [e.status, e.message])).toEqual([
      [
        'not-applicable',
        expect.stringMatching(
          /:5:5: target sim cannot run exec clients over PC\/SC \(needs pcscd: use --target vpcd, or --target relay for a physical card\)$/,
        ),
      ],
      ['not-applicable', expect.stringContaining(`the client manifest ${manifest.file} has no client "missing"`)],
    ]);
    expect(r.inputs).toEqual([]);
    const none = await run([s('mod-client')], { manifest: undefined });
    expect(none.of('scenario-end')[0].message).toMatch(/needs a client manifest/);
  });
});

describe('malformed expectations are input errors, never a silent pass', () => {
  const q = card({ do: 'query', pin: 'auth' });
  const cases: Array<[string, Parameters<typeof scenario>[0], RegExp]> = [
    ['a pattern byte that is not hex', { steps: [q], expect: { trace: [{ never: { ins: '2O' } }] } }, /:1:1: trace never\.ins: "2O" is not one byte/],
    ['odd hex data', { steps: [q], expect: { trace: [{ inOrder: [{ ins: 'A4' }, { data: 'ABC' }] }] } }, /trace inOrder\[1\]\.data: not hex bytes/],
    ['a 3-digit status word', { steps: [card({ do: 'query', pin: 'auth' }, { sw: '63C' })] }, /:5:5: sw: "63C" is not a status word/],
    [
      'a bad regular expression',
      { steps: [{ kind: 'client', client: 'mod-client', answers: [], args: {}, expect: { stdout: { matches: '(' } } }] },
      /stdout\.matches: not a regular expression/,
    ],
    ['an empty PIN value (it would be sent as the tries-left query)', { steps: [card({ do: 'verify', pin: 'auth', value: '' })] }, /:5:5: value is empty/],
    [
      'an injected SW with a wildcard',
      { steps: [event({ type: 'inject-sw', sw: '6Axx', match: { ins: '20' }, times: 1 })] },
      /event\.sw: "6Axx" has a wildcard/,
    ],
  ];
  for (const [name, s, message] of cases) {
    it(name, async () => {
      const r = await run([scenario(s)]);
      expect(r.of('scenario-end')[0].status).toBe('error');
      expect(located(r.of('scenario-end')[0])).toMatch(message);
      expect(r.exitCode).toBe(2);
    });
  }
});

describe('the run', () => {
  it('emits the events in order', async () => {
    const r = await run([
      scenario({ steps: [card({ do: 'query', pin: 'auth' })], expect: { card: { auth: { triesLeft: 3 } }, trace: [{ never: { ins: '20', data: true } }] } }),
    ]);
    expect(r.events.map((e) => e.type)).toEqual([
      'run-start',
      'scenario-start',
      'step-start',
      'card-state',
      'apdu',
      'apdu',
      'apdu',
      'card-state',
      'expectation',
      'step-end',
      'card-state',
      'expectation',
      'expectation',
      'scenario-end',
      'run-end',
    ]);
    expect(r.of('apdu').map((a) => `${a.name} ${a.sw}`)).toEqual(['SELECT 9000', 'SELECT 9000', 'VERIFY 63C3']);
    expect(r.of('run-end')[0]).toMatchObject({ exitCode: 0, counts: { passed: 1, failed: 0, error: 0, 'not-applicable': 0, skipped: 0 } });
  });

  it('final trace expectations fail naming the exchange', async () => {
    const r = await run([
      scenario({
        steps: [card({ do: 'verify', pin: 'auth', value: '{pins.wrong.auth}' }, { sw: '63C2' })],
        expect: { trace: [{ never: { ins: '20', data: true } }] },
      }),
    ]);
    expect(failures(r)).toEqual(['trace never: no INS 20 with data / #3 00 20 00 80 <redacted> (VERIFY) → 63C2']);
  });

  it('a failed step skips the rest and the final expectations', async () => {
    const r = await run([scenario({ steps: [card({ do: 'query', pin: 'auth' }, { sw: '9000' }), card({ do: 'query', pin: 'auth' })], expect: { trace: [] } })]);
    expect(r.of('step-end').map((e) => e.status)).toEqual(['failed', 'skipped']);
    expect(r.of('card-state').length).toBe(2);
  });

  it('grep picks scenarios; bail skips the rest after a failure', async () => {
    const pass = scenario({ name: 'alpha', steps: [] });
    const fail = scenario({ name: 'beta', steps: [card({ do: 'query', pin: 'auth' }, { sw: '9000' })] });
    const g = await run([pass, fail], { grep: 'alph' });
    expect(g.of('scenario-start').map((e) => e.name)).toEqual(['alpha']);
    const b = await run([fail, pass], { bail: true });
    expect(b.of('scenario-end').map((e) => e.status)).toEqual(['failed', 'skipped']);
    expect(b.exitCode).toBe(1);
  });

  it('a target whose environment is broken: every scenario is an error, exit 3', async () => {
    const broken = { ...sim(), check: async () => 'pcscd is not running' };
    const r = await run([scenario({ steps: [] })], { target: broken });
    expect(r.of('scenario-end')[0]).toMatchObject({ status: 'error', message: 'target sim cannot run: pcscd is not running' });
    expect(r.exitCode).toBe(3);
  });

  it('a target check that throws is a broken environment too, and the run still ends with run-end', async () => {
    const throwing = {
      ...sim(),
      check: async (): Promise<string | undefined> => {
        throw new Error('PC/SC context: SCardEstablishContext failed');
      },
    };
    const r = await run([scenario({ steps: [] })], { target: throwing });
    expect(r.of('scenario-end')[0].message).toBe('target sim cannot run: its check failed: PC/SC context: SCardEstablishContext failed');
    expect(r.of('run-end')[0].exitCode).toBe(3);
  });

  it('exit code: input errors beat environment errors beat failures', () => {
    expect(exitCodeOf([{ status: 'passed' }, { status: 'not-applicable' }, { status: 'skipped' }])).toBe(0);
    expect(exitCodeOf([{ status: 'failed' }])).toBe(1);
    expect(exitCodeOf([{ status: 'failed' }, { status: 'error', errorKind: 'environment' }])).toBe(3);
    expect(
      exitCodeOf([
        { status: 'error', errorKind: 'environment' },
        { status: 'error', errorKind: 'input' },
      ]),
    ).toBe(2);
  });

  it('a step duration leaves out the wait for the card to settle (vpcd waits for pcscd there)', async () => {
    let t = 0;
    const base = sim();
    const slowToSettle = {
      ...base,
      prepare: async (setup: Parameters<typeof base.prepare>[0], dir: string) => ({
        ...(await base.prepare(setup, dir)),
        settle: async () => {
          t += 1000;
        },
      }),
    };
    const r = await run([scenario({ steps: [card({ do: 'query', pin: 'auth' }, { durationMs: { max: 500 } })] })], { target: slowToSettle, now: () => t });
    expect(failures(r)).toEqual([]);
    expect(r.of('step-end')[0].durationMs).toBe(1000);
  });

  it('durations come from the injected clock', async () => {
    let t = 1_000_000;
    const r = await run([scenario({ steps: [] })], { now: () => (t += 10) });
    expect(r.of('run-start')[0].time).toBe(new Date(1_000_010).toISOString());
    expect(r.of('run-end')[0].durationMs).toBeGreaterThan(0);
    expect(r.of('run-end')[0].durationMs % 10).toBe(0);
  });
});
