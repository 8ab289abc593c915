/**
 * OpenSC as installed by `bash scripts/pcsc-stack.sh install` (Debian's opensc package): where its
 * PKCS#11 module is, and the gate for tests that run its tools. Outside CI a machine without them skips
 * (the skip names what is missing and the fix); under CI=true the tests run and fail in their
 * `beforeAll`, which calls {@link openscMissing} again.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { describe } from 'vitest';
import { describePcsc, IN_CI } from './pcsc-env.ts';
import { redactArgs } from './real-card.ts';

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

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command line with PIN values redacted, and the output: for assertion messages. */
  what: string;
}

/** Runs a tool with a deadline, without blocking the event loop (the card answers from it). */
export function runTool(cmd: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs); // deadline: a hung tool is killed
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = [cmd, ...redactArgs(args)].join(' ');
      resolve({ code, stdout, stderr, what: `${line} → exit ${code ?? signal}\n--- stdout\n${stdout}--- stderr\n${stderr}` });
    });
  });
}

export interface Slot {
  index: number;
  id: string;
  reader: string;
  token?: string;
  flags?: string;
}

/** `pkcs11-tool -L` output: every slot, empty readers included (docs/card.md §10.5: --slot-index counts them all). */
export function parseSlots(out: string): Slot[] {
  const slots: Slot[] = [];
  for (const block of out.split(/^(?=Slot \d+ )/m)) {
    const m = /^Slot (\d+) \((0x[0-9a-f]+)\): (.*)$/m.exec(block);
    if (!m) continue;
    slots.push({
      index: Number(m[1]),
      id: m[2],
      reader: m[3].trim(),
      token: /^\s*token label\s*:\s*(.*)$/m.exec(block)?.[1]?.trim(),
      flags: /^\s*token flags\s*:\s*(.*)$/m.exec(block)?.[1]?.trim(),
    });
  }
  return slots;
}

/** pkcs11-tool's arguments to log in with `pinValue` and sign `input` with key `id` (SHA256-RSA-PKCS) into `output`. */
export function signArgs(slot: string, pinValue: string, id: string, input: string, output: string): string[] {
  return [
    '--module',
    OPENSC_MODULE,
    '--slot',
    slot,
    '--login',
    '--pin',
    pinValue,
    '--sign',
    '--id',
    id,
    '-m',
    'SHA256-RSA-PKCS',
    '--input-file',
    input,
    '--output-file',
    output,
  ];
}
