/**
 * Vitest setup file (vitest.config.ts `setupFiles`): every fast-check property of a run uses one seed.
 *
 * - `MYNA_HIL_FC_SEED=<integer 0..4294967295>` fixes it: CI can pin it, and a failure is replayed with
 *   `MYNA_HIL_FC_SEED=<seed> npx vitest run tests/<dir>/<file>.test.ts`.
 * - Unset, a random seed is drawn for each test file. fast-check names it in every counterexample
 *   (`{ seed: …, path: … }`), and a failing test prints it again here with the command to replay it.
 */
import fc from 'fast-check';
import { afterEach } from 'vitest';

const ENV = 'MYNA_HIL_FC_SEED';

function seedFromEnv(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 0xffffffff) {
    throw new Error(`${ENV}: must be an integer from 0 to 4294967295 (fast-check seed); unset it for a random seed`);
  }
  return Number(raw);
}

const fixed = seedFromEnv(process.env[ENV]);
const seed = fixed ?? Math.floor(Math.random() * 0x1_0000_0000);
fc.configureGlobal({ seed });

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    console.error(`fast-check seed of this run: ${seed}${fixed === undefined ? ' (random)' : ` (from ${ENV})`}; replay with ${ENV}=${seed}`);
  }
});
