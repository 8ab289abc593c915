/**
 * No PIN value of a run reaches an event's text: client output, failed expectations, error messages,
 * whatever the client prints around the value (property test).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { RunEvent } from '../../harness/runner/events.ts';
import { PIN_KINDS, type PinKind } from '../../harness/scenario/model.ts';
import { result, run, scenario } from './fixtures.ts';

/** The free texts of the events (numbers such as times and durations are not client text). */
function texts(events: RunEvent[]): string[] {
  return events.flatMap((e) => {
    if (e.type === 'output') return [e.line];
    if (e.type === 'expectation') return [e.expected ?? '', e.actual ?? ''];
    if (e.type === 'step-end' || e.type === 'scenario-end') return [e.message ?? ''];
    return [];
  });
}

it('client output, text expectations and errors carrying PIN values are masked', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...PIN_KINDS),
      fc.string({ maxLength: 10 }),
      fc.string({ maxLength: 10 }),
      fc.constantFrom('stdout', 'stderr', 'throw'),
      async (kind: PinKind, before, after, where) => {
        let pin = '';
        const r = await run(
          [
            scenario({
              steps: [
                {
                  kind: 'client',
                  client: 'mod-client',
                  answers: [],
                  args: {},
                  expect: { stdout: { contains: ['never printed'] }, stderr: { notContains: [before || 'x'] } },
                },
              ],
            }),
          ],
          {
            runClient: async (i) => {
              pin = i.vars[`pins.${kind}`];
              const text = `${before}${pin}${after}`;
              if (where === 'throw') throw new Error(text);
              i.onLine?.(where, text);
              return result({ [where]: text, leakedPin: true });
            },
          },
        );
        expect(pin).not.toBe('');
        for (const t of texts(r.events)) expect(t).not.toContain(pin);
      },
    ),
    { numRuns: 25 },
  );
});
