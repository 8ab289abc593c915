/**
 * Scenario files parse to the exact model values (harness/scenario/model.ts): every step kind, card
 * action, card event, issuer action, wait condition and expectation kind, with positions.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { findScenarioFiles, loadScenarios } from '../../harness/scenario/load.ts';
import type { Scenario, Step } from '../../harness/scenario/model.ts';
import { tempDir, yamlFile } from './files.ts';

/** The steps of a one-scenario file whose steps are `steps` (YAML, indented as list items). */
function stepsOf(steps: string): Step[] {
  const path = yamlFile(`version: 1\nname: t\nsteps:\n${steps}`);
  const [s] = loadScenarios(path);
  return s.steps.map(({ where, ...rest }) => {
    expect(where).toMatch(new RegExp(`^${path}:\\d+:5$`));
    return rest as Step;
  });
}
const stepOf = (yaml: string) => stepsOf(yaml)[0];

it('the loader returns the model types (checked by tsc)', () => {
  expectTypeOf(loadScenarios).returns.toEqualTypeOf<Scenario[]>();
});

describe('a whole scenario', () => {
  it('reads the example of issue 8 with positions', () => {
    const path = yamlFile(`# yaml-language-server: $schema=../schema/scenario.schema.json
version: 1
name: the kiosk asks before spending the last auth PIN try
id: CLIENT-012
tags: [pin, kiosk]
card:
  variant: adult
  pins: { auth: { triesLeft: 1 } }
  behaviour: { selectDfClearsVerified: false }
steps:
  - client: kiosk-sign
    answers:
      - { prompt: "暗証番号", reply: "{pins.wrong.auth}" }
      - { prompt: "last try", reply: "n" }
    expect:
      exit: 3
      stdout: { matches: "残り1回" }
expect:
  card: { auth: { triesLeft: 1, locked: false } }
  trace:
    - { never: { ins: "20", data: true } }
`);
    expect(loadScenarios(path)).toEqual([
      {
        file: path,
        index: 0,
        version: 1,
        name: 'the kiosk asks before spending the last auth PIN try',
        id: 'CLIENT-012',
        tags: ['pin', 'kiosk'],
        destructive: false,
        card: { variant: 'adult', pins: { auth: { triesLeft: 1 } }, behaviour: { selectDfClearsVerified: false } },
        steps: [
          {
            kind: 'client',
            client: 'kiosk-sign',
            answers: [
              { prompt: '暗証番号', reply: '{pins.wrong.auth}' },
              { prompt: 'last try', reply: 'n' },
            ],
            args: {},
            expect: { exit: 3, stdout: { matches: '残り1回' } },
            where: `${path}:11:5`,
          },
        ],
        expect: { card: { auth: { triesLeft: 1, locked: false } }, trace: [{ never: { ins: '20', data: true } }] },
        where: `${path}:2:1`,
      },
    ]);
  });

  it('reads a list of scenarios, each with its index and position; a profile instead of a variant; destructive', () => {
    const path = yamlFile(`version: 1
scenarios:
  - name: one
    card: { profile: cards/lab.json }
    destructive: true
    steps: []
  - name: two
    steps: [{ event: reset }]
`);
    const [a, b] = loadScenarios(path);
    expect(a).toEqual({
      file: path,
      index: 0,
      version: 1,
      name: 'one',
      tags: [],
      destructive: true,
      card: { profile: 'cards/lab.json' },
      steps: [],
      where: `${path}:3:5`,
    });
    expect(b).toMatchObject({
      index: 1,
      name: 'two',
      card: {},
      steps: [{ kind: 'event', event: { type: 'reset' }, where: `${path}:8:13` }],
      where: `${path}:7:5`,
    });
  });
});

describe('steps', () => {
  it('client: answers, args, timeout, name', () => {
    expect(stepOf(`  - client: read-auth-cert\n    name: reads the cert\n    args: { out: '{workDir}/cert.der' }\n    timeout: 1500ms\n`)).toEqual({
      kind: 'client',
      client: 'read-auth-cert',
      name: 'reads the cert',
      answers: [],
      args: { out: '{workDir}/cert.der' },
      timeoutMs: 1500,
    });
  });

  it('card: every action, hex normalised (upper case, no spaces)', () => {
    const steps = stepsOf(`  - card: { apdu: '00 a4 04 0c 0a d3 92 f0 00 26 01 00 00 00 01' }
  - card: { select: jpki }
  - card: { query: auth }
  - card: { verify: auth, value: '{pins.auth}' }
  - card: { change: sign, value: '{pins.sign}', newValue: 'NEWPASS1' }
  - card: { read: 000a, app: jpki }
  - card: { sign: auth, value: '1234', data: 'de ad be ef' }
  - card: { flow: '11.1' }
`);
    expect(steps.map((s) => (s.kind === 'card' ? s.action : s))).toEqual([
      { do: 'apdu', hex: '00A4040C0AD392F000260100000001' },
      { do: 'select', app: 'jpki' },
      { do: 'query', pin: 'auth' },
      { do: 'verify', pin: 'auth', value: '{pins.auth}' },
      { do: 'change', pin: 'sign', value: '{pins.sign}', newValue: 'NEWPASS1' },
      { do: 'read', app: 'jpki', ef: '000A' },
      { do: 'sign', key: 'auth', value: '1234', data: 'DEADBEEF' },
      { do: 'flow', flow: '11.1' },
    ]);
  });

  it('event: the bare words and the ones with parameters', () => {
    const steps = stepsOf(`  - event: remove
  - event: insert
  - event: reset
  - event: power-loss-after-counter-write
  - event: { latency: 20ms }
  - event: { latency: 1s, ins: 'b0' }
  - event: { inject-sw: '6a82', match: { ins: B0, p1: '80' } }
  - event: { inject-sw: '63c1', match: { ins: '20', data: true }, times: 2 }
  - event: { cut-response: 2 }
`);
    expect(steps.map((s) => (s.kind === 'event' ? s.event : s))).toEqual([
      { type: 'remove' },
      { type: 'insert' },
      { type: 'reset' },
      { type: 'power-loss-after-counter-write' },
      { type: 'latency', ms: 20 },
      { type: 'latency', ms: 1000, ins: 'B0' },
      { type: 'inject-sw', sw: '6A82', match: { ins: 'B0', p1: '80' }, times: 1 },
      { type: 'inject-sw', sw: '63C1', match: { ins: '20', data: true }, times: 2 },
      { type: 'cut-response', bytes: 2 },
    ]);
  });

  it('issuer: reset a counter, set a PIN, re-initialise the sign password', () => {
    expect(
      stepsOf(`  - issuer: { reset-counter: auth }\n  - issuer: { set-pin: juki, value: '{pins.juki}' }\n  - issuer: { reinit-sign-password: 'ABC123' }\n`),
    ).toEqual([
      { kind: 'issuer', action: 'reset-counter', pin: 'auth' },
      { kind: 'issuer', action: 'set-pin', pin: 'juki', value: '{pins.juki}' },
      { kind: 'issuer', action: 'reinit-sign-password', pin: 'sign', value: 'ABC123' },
    ]);
  });

  it('wait: on the card or the trace, with a deadline (5 s by default)', () => {
    expect(stepsOf(`  - wait: { card: { auth: { triesLeft: 2 } }, timeout: 2s }\n  - wait: { trace: { contains: { ins: '88' } } }\n`)).toEqual([
      { kind: 'wait', until: { card: { auth: { triesLeft: 2 } } }, timeoutMs: 2000 },
      { kind: 'wait', until: { trace: { contains: { ins: '88' } } }, timeoutMs: 5000 },
    ]);
  });

  it('a background client, and waits on the most recent one: its output, its end', () => {
    const steps = stepsOf(`  - client: kiosk-auth
    background: true
  - client: kiosk-sign
    background: true
  - wait: { client: { output: { contains: 'PIN' } }, timeout: 2s }
  - event: remove
  - wait: { client: { exited: true, output: { matches: '^done' } } }
  - client: other
    background: false
`);
    expect(steps).toEqual([
      { kind: 'client', client: 'kiosk-auth', answers: [], args: {}, background: true },
      { kind: 'client', client: 'kiosk-sign', answers: [], args: {}, background: true },
      { kind: 'wait', until: { client: { step: 1, output: { contains: ['PIN'] } } }, timeoutMs: 2000 },
      { kind: 'event', event: { type: 'remove' } },
      { kind: 'wait', until: { client: { step: 1, exited: true, output: { matches: '^done' } } }, timeoutMs: 5000 },
      { kind: 'client', client: 'other', answers: [], args: {} },
    ]);
  });
});

describe('expectations', () => {
  it('per step: exit, stdout/stderr (a string or a list), sw with wildcards, card, duration', () => {
    const step = stepOf(`  - client: kiosk-sign
    expect:
      exit: 0
      stdout: { contains: ok, notContains: [PIN, secret] }
      stderr: { contains: [a, b], matches: '^\\d{4}$' }
      sw: '63cX'
      card: { auth: { triesLeft: 3, locked: false }, sign: { locked: true } }
      duration: { min: 0, max: 2s }
`);
    expect(step.expect).toEqual({
      exit: 0,
      stdout: { contains: ['ok'], notContains: ['PIN', 'secret'] },
      stderr: { contains: ['a', 'b'], matches: '^\\d{4}$' },
      sw: '63Cx',
      card: { auth: { triesLeft: 3, locked: false }, sign: { locked: true } },
      durationMs: { min: 0, max: 2000 },
    });
  });

  it('trace: contains, never, inOrder, count with bounds, noneAfter; every pattern field', () => {
    const path = yamlFile(`version: 1
name: t
steps: []
expect:
  trace:
    - contains: { cla: '00', ins: a4, p1: '04', p2: 0C, data: 'D3 92 F0 00 26 01 00 00 00 01', sw: '9000' }
    - never: { ins: '20', data: true }
    - inOrder: [{ ins: A4 }, { ins: '20', data: false, sw: 63Cx }]
    - count: { ins: '20', data: true }
      max: 1
    - { count: { ins: B0 }, min: 1, max: 9 }
    - noneAfter: { after: { sw: 63C1 }, then: { ins: '20', data: true } }
`);
    expect(loadScenarios(path)[0].expect).toEqual({
      trace: [
        { contains: { cla: '00', ins: 'A4', p1: '04', p2: '0C', data: 'D392F000260100000001', sw: '9000' } },
        { never: { ins: '20', data: true } },
        { inOrder: [{ ins: 'A4' }, { ins: '20', data: false, sw: '63Cx' }] },
        { count: { ins: '20', data: true }, max: 1 },
        { count: { ins: 'B0' }, min: 1, max: 9 },
        // biome-ignore lint/suspicious/noThenProperty: the model's field (TraceExpect noneAfter.then)
        { noneAfter: { after: { sw: '63C1' }, then: { ins: '20', data: true } } },
      ],
    });
  });
});

describe('findScenarioFiles', () => {
  it('finds *.yaml and *.yml under directories, sorted, files given kept, no duplicates', () => {
    const b = yamlFile('x', 'tree/b.yaml');
    const a = yamlFile('x', 'tree/sub/a.yml');
    yamlFile('x', 'tree/notes.txt');
    yamlFile('x', 'tree/.hidden/c.yaml');
    const root = `${tempDir()}/tree`;
    expect(findScenarioFiles([root, b])).toEqual([b, a].sort());
  });

  it('a path that does not exist is an input error naming it', () => {
    expect(() => findScenarioFiles([`${tempDir()}/nope`])).toThrow(
      `${tempDir()}/nope: no such file or directory (fix: give a scenario file or a directory of them)`,
    );
  });
});
