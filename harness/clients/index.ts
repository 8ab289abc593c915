/** Runs the client a binding names: an exec program (exec.ts) or a module driver (module.ts). */
import type { ClientRunInput, ClientRunResult } from './client.ts';
import { runExec } from './exec.ts';
import { runModule } from './module.ts';

export type { ClientRunInput, ClientRunResult, ModuleClient, ModuleClientContext } from './client.ts';

export function runClient(input: ClientRunInput): Promise<ClientRunResult> {
  return input.binding.kind === 'exec' ? runExec(input, input.binding) : runModule(input, input.binding);
}
