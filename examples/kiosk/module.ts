/**
 * The reference kiosk as a `module` client of the scenario runner (harness/clients/client.ts): the
 * runner hands it a channel to the card and answers its prompts. Template variables it reads:
 *   args.key        auth (default) or sign
 *   challengeFile   (or args.challenge) a file to sign; without one, a fixed challenge
 *   args.out        a file for the signature; without one, the signature is printed as hex
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { ModuleClientContext } from '../../harness/clients/client.ts';
import { EXIT, runKiosk, type KioskFaults } from './kiosk.ts';

/** Signed when no challenge file is given: fixed, so that a scenario can check the signature. */
export const DEFAULT_CHALLENGE = 'myna-hil kiosk challenge';

export function run(ctx: ModuleClientContext): Promise<number> {
  return runModule(ctx, {});
}

/** The module form with the faulty twin's switches (examples/kiosk-faulty/module.ts). */
export async function runModule(ctx: ModuleClientContext, faults: KioskFaults): Promise<number> {
  const key = ctx.vars['args.key'] ?? 'auth';
  if (key !== 'auth' && key !== 'sign') {
    ctx.log(`usage: args.key is "${key}"; use auth or sign`);
    return EXIT.usage;
  }
  const challengeFile = ctx.vars['args.challenge'] ?? ctx.vars.challengeFile;
  const out = ctx.vars['args.out'];
  let challenge: Uint8Array;
  try {
    challenge = challengeFile ? await readFile(challengeFile) : new TextEncoder().encode(DEFAULT_CHALLENGE);
  } catch (err) {
    ctx.log(`usage: cannot read the challenge file ${challengeFile}: ${(err as Error).message}; give an existing file`);
    return EXIT.usage;
  }
  return runKiosk(
    ctx.channel,
    { prompt: (text) => ctx.prompt(text), print: (line) => ctx.log(line) },
    { key, challenge, faults, writeSignature: out ? (sig) => writeFile(out, sig) : undefined },
  );
}
