/**
 * Bad scenario files: each is an InputError (exit 2) reading `file:line:col field: what was expected`,
 * then the source line and a caret under the column of the node at fault. Messages are exact.
 */
import { describe, expect, it } from 'vitest';
import { SPEC_FLOWS } from '../../harness/flows/spec-flows.ts';
import { loadScenarios } from '../../harness/scenario/load.ts';
import { errorText, yamlFile } from './files.ts';

/** The error of loading `text`, the temporary path replaced by FILE. */
function loadError(text: string): string {
  const path = yamlFile(text);
  return errorText(() => loadScenarios(path), path);
}
const HEAD = 'version: 1\nname: t\nsteps:\n';

describe('the YAML itself', () => {
  it('malformed YAML names the position of the parse error', () => {
    expect(loadError(`${HEAD}  - card: { select: jpki\n`)).toBe(
      ['FILE:5:1: malformed YAML: Flow map in block collection must be sufficiently indented and end with a }', '  5 | ', '    | ^'].join('\n'),
    );
  });

  it('a duplicate key is refused, at the second one', () => {
    expect(loadError('version: 1\nname: a\nname: b\nsteps: []\n')).toBe(
      ['FILE:3:1: malformed YAML: Map keys must be unique', '  3 | name: b', '    | ^'].join('\n'),
    );
  });

  it('a file that cannot be read names the path and the reason', () => {
    expect(() => loadScenarios('/nonexistent/x.yaml')).toThrow(
      '/nonexistent/x.yaml: cannot read the scenario file: ENOENT (fix: give the path of an existing YAML file)',
    );
  });
});

describe('the version', () => {
  it('missing', () => {
    expect(loadError('name: t\nsteps: []\n')).toBe(['FILE:1:1 version: missing; add `version: 1` as the first line', '  1 | name: t', '    | ^'].join('\n'));
  });

  it('version 2, at the value', () => {
    expect(loadError('version: 2\nname: t\nsteps: []\n')).toBe(
      ['FILE:1:10 version: unsupported version 2; this runner reads version: 1', '  1 | version: 2', '    |          ^'].join('\n'),
    );
  });

  it('a file that is not a mapping', () => {
    expect(loadError('- a\n- b\n')).toBe(
      [
        'FILE:1:1: expected a mapping with version: 1 and the fields of a scenario (name, card, steps, expect) or a list under scenarios:',
        '  1 | - a',
        '    | ^',
      ].join('\n'),
    );
  });
});

describe('kinds and fields', () => {
  it('an unknown step kind, at its key, with the kinds allowed', () => {
    expect(loadError(`${HEAD}  - name: x\n    clinet: kiosk-sign\n`)).toBe(
      [
        "FILE:5:5 steps[0].clinet: unknown step kind 'clinet'; expected one of: client, card, event, issuer, wait",
        '  5 |     clinet: kiosk-sign',
        '    |     ^',
      ].join('\n'),
    );
  });

  it('two kinds in one step', () => {
    expect(loadError(`${HEAD}  - { client: a, wait: { trace: { never: {} } } }\n`)).toBe(
      [
        'FILE:4:18 steps[0].wait: one step kind per entry: found client and wait',
        '  4 |   - { client: a, wait: { trace: { never: {} } } }',
        '    |                  ^',
      ].join('\n'),
    );
  });

  it('an unknown field, at its key, with the fields allowed', () => {
    expect(loadError(`${HEAD}  - client: kiosk-sign\n    answer: []\n`)).toBe(
      [
        "FILE:5:5 steps[0].answer: unknown field 'answer'; allowed: client, answers, args, timeout, background, name, expect",
        '  5 |     answer: []',
        '    |     ^',
      ].join('\n'),
    );
  });

  it('an unknown card action and an unknown event word', () => {
    expect(loadError(`${HEAD}  - card: { erase: jpki }\n  - event: explode\n`)).toBe(
      [
        "FILE:4:13 steps[0].card.erase: unknown card action 'erase'; expected one of: apdu, select, query, verify, change, read, sign, flow",
        '  4 |   - card: { erase: jpki }',
        '    |             ^',
        "FILE:5:12 steps[1].event: unknown card event 'explode'; expected remove, insert, reset, power-loss-after-counter-write, or a mapping with one of the keys latency, inject-sw, cut-response",
        '  5 |   - event: explode',
        '    |            ^',
      ].join('\n'),
    );
  });

  it('a missing field points at the mapping that lacks it', () => {
    expect(loadError(`${HEAD}  - card: { verify: auth }\n`)).toBe(
      ['FILE:4:11 steps[0].card.value: missing: expected a string', '  4 |   - card: { verify: auth }', '    |           ^'].join('\n'),
    );
  });

  it('an enum value lists the allowed ones', () => {
    expect(loadError(`${HEAD}  - card: { query: pin1 }\n`)).toBe(
      ['FILE:4:20 steps[0].card.query: must be one of: sign, auth, juki, kenmen, common', '  4 |   - card: { query: pin1 }', '    |                    ^'].join(
        '\n',
      ),
    );
  });
});

describe('strings YAML reads as numbers are refused, never coerced', () => {
  it('an unquoted PIN is shown as written (0123, not 123)', () => {
    expect(loadError(`${HEAD}  - card: { verify: auth, value: 0123 }\n`)).toBe(
      [
        "FILE:4:34 steps[0].card.value: expected a string, not a number; quote it: '0123'",
        '  4 |   - card: { verify: auth, value: 0123 }',
        '    |                                  ^',
      ].join('\n'),
    );
  });

  it('an unquoted status word, and a hex one written 0x6983', () => {
    expect(loadError(`${HEAD}  - card: { query: auth }\n    expect: { sw: 9000 }\n  - event: { inject-sw: 0x6983, match: {} }\n`)).toBe(
      [
        "FILE:5:19 steps[0].expect.sw: expected a string, not a number; quote it: '9000'",
        '  5 |     expect: { sw: 9000 }',
        '    |                   ^',
        "FILE:6:25 steps[1].event.inject-sw: expected a string, not a number; quote it: '0x6983'",
        '  6 |   - event: { inject-sw: 0x6983, match: {} }',
        '    |                         ^',
      ].join('\n'),
    );
  });

  it('an unquoted reply and an unquoted file id', () => {
    expect(loadError(`${HEAD}  - client: c\n    answers: [{ prompt: PIN, reply: 1234 }]\n  - card: { read: 0001, app: jpki }\n`)).toBe(
      [
        "FILE:5:37 steps[0].answers[0].reply: expected a string, not a number; quote it: '1234'",
        '  5 |     answers: [{ prompt: PIN, reply: 1234 }]',
        '    |                                     ^',
        "FILE:6:19 steps[1].card.read: expected a string, not a number; quote it: '0001'",
        '  6 |   - card: { read: 0001, app: jpki }',
        '    |                   ^',
      ].join('\n'),
    );
  });

  it('a flow id written as a number, and pattern data as a number', () => {
    expect(loadError(`${HEAD}  - card: { flow: 11.1 }\n  - wait: { trace: { never: { data: 0102 } } }\n`)).toBe(
      [
        `FILE:4:19 steps[0].card.flow: must be one of: ${SPEC_FLOWS.map((f) => f.id).join(', ')}; quote it: '11.1'`,
        '  4 |   - card: { flow: 11.1 }',
        '    |                   ^',
        "FILE:5:37 steps[1].wait.trace.never.data: must be true, false or hex bytes in quotes; quote it: '0102'",
        '  5 |   - wait: { trace: { never: { data: 0102 } } }',
        '    |                                     ^',
      ].join('\n'),
    );
  });
});

describe('value formats', () => {
  it('hex with an odd count of digits', () => {
    expect(loadError(`${HEAD}  - card: { apdu: '00 A4 0' }\n`)).toBe(
      [
        'FILE:4:19 steps[0].card.apdu: must be hex bytes in quotes: an even count of hex digits, spaces allowed',
        "  4 |   - card: { apdu: '00 A4 0' }",
        '    |                   ^',
      ].join('\n'),
    );
  });

  it('a status word that is not 4 hex digits', () => {
    expect(loadError(`${HEAD}  - card: { query: auth }\n    expect: { sw: '63C' }\n`)).toBe(
      [
        "FILE:5:19 steps[0].expect.sw: must be a status word in quotes: 4 hex digits, x as a wildcard digit ('63Cx')",
        "  5 |     expect: { sw: '63C' }",
        '    |                   ^',
      ].join('\n'),
    );
  });

  it('a wait on a client with no background client started before it', () => {
    expect(loadError(`${HEAD}  - client: kiosk-sign\n  - wait: { client: { exited: true } }\n  - client: kiosk-sign\n    background: true\n`)).toBe(
      [
        'FILE:5:21 steps[1].wait.client: no background client was started before this wait; start a client with `background: true` in an earlier step, or wait on the card or the trace',
        '  5 |   - wait: { client: { exited: true } }',
        '    |                     ^',
      ].join('\n'),
    );
  });

  it('a wait on a client that names no condition, or exited: false', () => {
    const HEAD_BG = `${HEAD}  - { client: k, background: true }\n`;
    expect(loadError(`${HEAD_BG}  - wait: { client: {} }\n`)).toBe(
      ['FILE:5:21 steps[1].wait.client: give output, exited or both', '  5 |   - wait: { client: {} }', '    |                     ^'].join('\n'),
    );
    expect(loadError(`${HEAD_BG}  - wait: { client: { exited: false } }\n`)).toMatch(/^FILE:5:\d+ steps\[1\]\.wait\.client\.exited: must be true/);
  });

  it('a bad duration', () => {
    expect(loadError(`${HEAD}  - wait: { card: {}, timeout: 2 minutes }\n`)).toBe(
      [
        'FILE:4:32 steps[0].wait.timeout: must be a duration: 500ms, 2s or a whole number of milliseconds',
        '  4 |   - wait: { card: {}, timeout: 2 minutes }',
        '    |                                ^',
      ].join('\n'),
    );
  });

  it('an unknown template variable', () => {
    expect(loadError(`${HEAD}  - card: { verify: auth, value: '{pins.auht}' }\n`)).toBe(
      [
        'FILE:4:34 steps[0].card.value: unknown template variable {pins.auht}; known: {pins.<pin>}, {pins.wrong.<pin>} (pin: sign, auth, juki, kenmen, common), {reader}, {challengeFile}, {workDir}, {args.<name>}, {env.<NAME>}',
        "  4 |   - card: { verify: auth, value: '{pins.auht}' }",
        '    |                                  ^',
      ].join('\n'),
    );
  });

  it('variant and profile together', () => {
    expect(loadError('version: 1\nname: t\ncard: { variant: adult, profile: p.json }\nsteps: []\n')).toBe(
      ['FILE:3:7 card: give variant or profile, not both', '  3 | card: { variant: adult, profile: p.json }', '    |       ^'].join('\n'),
    );
  });
});

describe('several problems', () => {
  it('all of them in source order, up to 10, then a count', () => {
    const steps = Array.from({ length: 12 }, (_, i) => `  - card: { verify: auth, value: ${1000 + i} }\n`).join('');
    const lines = loadError(`${HEAD}${steps}`).split('\n');
    expect(lines.filter((l) => l.startsWith('FILE:'))).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `FILE:${4 + i}:34 steps[${i}].card.value: expected a string, not a number; quote it: '${1000 + i}'`),
      'FILE: … and 2 more problems',
    ]);
  });
});
