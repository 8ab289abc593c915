/** The faulty kiosk (./faulty.ts) as a `module` client of the scenario runner; same variables as examples/kiosk/module.ts. */
import type { ModuleClientContext } from '../../harness/clients/client.ts';
import { runModule } from '../kiosk/module.ts';
import { FAULTS } from './faulty.ts';

export function run(ctx: ModuleClientContext): Promise<number> {
  return runModule(ctx, FAULTS);
}
