/**
 * Properties of the loader: a string value written quoted comes back unchanged, whatever it holds; an
 * all-digit PIN written unquoted (which YAML reads as a number) is always refused, shown as written.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { loadScenarios } from '../../harness/scenario/load.ts';
import { templateNames } from '../../harness/scenario/template.ts';
import { errorText, yamlFile } from './files.ts';

/** A YAML double-quoted scalar: JSON's string syntax is a subset of it. */
const quoted = (s: string) => JSON.stringify(s);

it('any string quoted in YAML round-trips unchanged (prompt, reply, stdout match, PIN value)', () => {
  // full Unicode, control characters included; templates aside (a reply may only name known variables)
  const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => templateNames(s).length === 0);
  fc.assert(
    fc.property(text, text, (a, b) => {
      const path = yamlFile(
        `version: 1\nname: t\nid: ${quoted(a)}\nsteps:\n  - client: c\n    answers: [{ prompt: ${quoted(a)}, reply: ${quoted(b)} }]\n    expect: { stdout: { contains: ${quoted(b)} } }\n  - card: { verify: auth, value: ${quoted(b)} }\n`,
      );
      const [s] = loadScenarios(path);
      expect(s.id).toBe(a);
      const [client, card] = s.steps;
      expect(client.kind === 'client' && client.answers).toEqual([{ prompt: a, reply: b }]);
      expect(client.expect?.stdout?.contains).toEqual([b]);
      expect(card.kind === 'card' && card.action).toEqual({ do: 'verify', pin: 'auth', value: b });
    }),
    { numRuns: 200 },
  );
});

it('any all-digit PIN written unquoted is refused with "quote it", shown as written', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9]{1,16}$/), (pin) => {
      const path = yamlFile(`version: 1\nname: t\nsteps:\n  - card: { verify: auth, value: ${pin} }\n`);
      expect(errorText(() => loadScenarios(path), path).split('\n')[0]).toBe(
        `FILE:4:34 steps[0].card.value: expected a string, not a number; quote it: '${pin}'`,
      );
    }),
    { numRuns: 200 },
  );
});

it('a wait on a client is tied to the most recent background client before it, or refused at its place when there is none', () => {
  const kind = fc.constantFrom('bg', 'fg', 'wait', 'event');
  fc.assert(
    fc.property(fc.array(kind, { minLength: 1, maxLength: 8 }), (kinds) => {
      const yaml = kinds.map(
        (k) =>
          ({
            bg: '  - { client: c, background: true }',
            fg: '  - { client: c }',
            wait: '  - wait: { client: { exited: true } }',
            event: '  - event: remove',
          })[k],
      );
      const path = yamlFile(`version: 1\nname: t\nsteps:\n${yaml.join('\n')}\n`);
      const firstBg = kinds.indexOf('bg');
      const firstWait = kinds.indexOf('wait');
      if (firstWait >= 0 && (firstBg < 0 || firstWait < firstBg)) {
        // line 4 is the first step; the error points at the `client:` of the first wait
        expect(errorText(() => loadScenarios(path), path)).toMatch(
          new RegExp(`^FILE:${firstWait + 4}:\\d+ steps\\[${firstWait}\\]\\.wait\\.client: no background client was started before this wait`),
        );
        return;
      }
      const steps = loadScenarios(path)[0].steps;
      steps.forEach((step, i) => {
        if (step.kind !== 'wait') return;
        expect('client' in step.until && step.until.client.step).toBe(kinds.lastIndexOf('bg', i));
      });
    }),
    { numRuns: 200 },
  );
});
