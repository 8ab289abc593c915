/** Test support for the client drivers: a ClientRunInput around a binding, with the run's PINs and a mask. */
import { fileURLToPath } from 'node:url';
import type { ClientRunInput } from '../../harness/clients/client.ts';
import type { ExecBinding, ModuleBinding } from '../../harness/scenario/model.ts';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** The run's PIN values: unusual enough not to appear by chance. */
export const PINS = { auth: '4719', 'wrong.auth': '8302', sign: 'QZ7K2M' } as const;

export const VARS: Record<string, string> = Object.fromEntries(Object.entries(PINS).map(([k, v]) => [`pins.${k}`, v]));

/** The runner's mask: every PIN value of the run becomes `<pin:kind>`. */
export function mask(text: string): string {
  let out = text;
  for (const [kind, value] of Object.entries(PINS)) out = out.split(value).join(`<pin:${kind}>`);
  return out;
}

export function exec(command: string, extra: Partial<ExecBinding> = {}): ExecBinding {
  return { kind: 'exec', command, args: [], env: {}, timeoutMs: 10_000, where: 'clients.yaml:3:5 test-client', ...extra };
}

export function moduleBinding(module: string, exportName = 'run'): ModuleBinding {
  return { kind: 'module', module, export: exportName, timeoutMs: 10_000, where: 'clients.yaml:9:5 test-module' };
}

export function input(binding: ExecBinding | ModuleBinding, extra: Partial<ClientRunInput> = {}): ClientRunInput {
  return { binding, baseDir: FIXTURES, vars: { ...VARS, reader: 'Virtual PCD 00 00' }, answers: [], timeoutMs: 10_000, mask, ...extra };
}
