/** A module client that says it started and then waits for an answer that never comes, until the driver aborts it. */
import type { ModuleClientContext } from '../../../harness/clients/client.ts';

export async function run(ctx: ModuleClientContext): Promise<number> {
  ctx.log('starting');
  await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
  return 1;
}
