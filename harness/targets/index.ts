/** The targets the runner can use, by the name `--target` takes (the physical-card `pcsc` target comes separately). */
import type { ProfileSource } from './card-host.ts';
import { simTarget } from './sim.ts';
import type { Target } from './target.ts';
import { vpcdTarget } from './vpcd.ts';

export { CardAbsent, SIM_CAPABILITIES, simTarget } from './sim.ts';
export { VPCD_CAPABILITIES, vpcdTarget } from './vpcd.ts';
export type { Capability, PreparedCard, Target, TraceEntry } from './target.ts';

export interface HostedTargetOptions {
  /** vpcd slot (vpcd only). Default 0. */
  slot?: number;
  profiles?: ProfileSource;
}

/** `sim` or `vpcd`: the targets that host the card in the runner's process. */
export function hostedTarget(kind: 'sim' | 'vpcd', options: HostedTargetOptions = {}): Target {
  return kind === 'sim' ? simTarget({ profiles: options.profiles }) : vpcdTarget(options);
}
