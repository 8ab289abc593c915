/**
 * Clients started with `background: true`: the scenario goes on while they run. Their output lines
 * (masked) are kept so that a `wait: { client: ... }` can poll them; their result arrives when the driver
 * ends them (it kills one at its timeout), and their step's expectations are checked then, at the end
 * of the scenario (steps.ts).
 */
import type { ClientRunResult } from '../clients/client.ts';
import type { ClientCondition, ClientStep } from '../scenario/model.ts';
import { type Check, checkText } from './expect.ts';

export interface BackgroundClient {
  /** Index of its step in the scenario. */
  index: number;
  step: ClientStep;
  timeoutMs: number;
  /** Its output so far, masked, one entry a line, in arrival order (all streams). */
  lines: string[];
  /** Set when the driver has returned. */
  result?: ClientRunResult;
  /** Set when the driver threw (a harness fault, not the client's verdict). */
  failure?: unknown;
  /** Resolves when it has ended, never rejects. */
  ended: Promise<void>;
}

/** Follows a started client: `lines` is the array its output lines are pushed to, `running` its driver's promise. */
export function startBackground(index: number, step: ClientStep, timeoutMs: number, lines: string[], running: Promise<ClientRunResult>): BackgroundClient {
  const bg: BackgroundClient = { index, step, timeoutMs, lines, ended: Promise.resolve() };
  bg.ended = running.then(
    (r) => {
      bg.result = r;
    },
    (err: unknown) => {
      bg.failure = err;
    },
  );
  return bg;
}

export const hasEnded = (bg: BackgroundClient): boolean => bg.result !== undefined || bg.failure !== undefined;

/** What became of the client: `still running`, `ended with exit 1`, `killed at its timeout`... */
export function endText(bg: BackgroundClient): string {
  if (bg.failure !== undefined) return 'its driver failed';
  const r = bg.result;
  if (!r) return 'still running';
  if (r.startError !== undefined) return 'could not be started';
  return r.timedOut ? 'killed at its timeout' : `ended with exit ${r.exit}`;
}

/** The condition's checks now: the output so far matches, the client has ended. */
export function clientConditionChecks(c: ClientCondition, bg: BackgroundClient): Check[] {
  const name = `client ${bg.step.client}`;
  const checks = c.output ? checkText(`${name} output`, c.output, bg.lines.join('\n')) : [];
  if (c.exited) checks.push({ what: `${name} exited`, passed: hasEnded(bg), expected: 'ended', actual: endText(bg) });
  return checks;
}
