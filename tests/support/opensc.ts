/**
 * OpenSC as installed by `bash scripts/pcsc-stack.sh install` (Debian's opensc package): where its
 * PKCS#11 module is, and the gate for tests that run its tools. Outside CI a machine without them skips
 * (the skip names what is missing and the fix); under CI=true the tests run and fail in their
 * `beforeAll`, which calls {@link openscMissing} again.
 */
import { accessSync, constants } from 'node:fs';
import { describe } from 'vitest';
import { describePcsc, IN_CI } from './pcsc-env.ts';

export const OPENSC_MODULE = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';

/** The first of these programs (and the PKCS#11 module) that is missing, as a message with the fix. */
export function openscMissing(tools: readonly string[]): string | undefined {
  for (const f of [...tools, OPENSC_MODULE]) {
    try {
      accessSync(f, f === OPENSC_MODULE ? constants.R_OK : constants.X_OK);
    } catch {
      return `${f} is missing; run \`bash scripts/pcsc-stack.sh install\` (installs opensc)`;
    }
  }
  return undefined;
}

/** describePcsc, also skipped (outside CI) when a tool of OpenSC is missing. */
export function describeOpensc(tools: readonly string[], name: string, fn: () => void): void {
  const missing = openscMissing(tools);
  if (missing && !IN_CI) describe.skip(`${name} [skipped: ${missing}]`, fn);
  else describePcsc(name, fn);
}
