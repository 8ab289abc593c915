/**
 * Whether a target (and the client manifest) can run a scenario at all. What it cannot do makes the
 * scenario "not applicable" with the reason, never a pass (issue 8: capabilities are explicit).
 */
import type { ClientManifest, Scenario } from '../scenario/model.ts';
import type { Capability, Target } from '../targets/target.ts';

const NEED: Record<Capability, string> = {
  'choose-card': 'make the card the scenario asks for (card.variant or card.profile): it uses the card in the reader',
  'set-counter': 'set a PIN counter (card.pins)',
  behaviour: 'override behaviour options (card.behaviour)',
  events: 'remove, insert or reset the card',
  faults: 'inject faults (latency, status words, power loss, cut responses)',
  issuer: 'run issuer actions',
  'exec-clients': 'run exec clients over PC/SC (needs pcscd: use --target vpcd, or --target relay for a physical card)',
  'module-clients': 'run module clients',
};

/** Capabilities a scenario needs, each with the place that needs it. */
function needs(s: Scenario, manifest: ClientManifest | undefined): Array<{ cap: Capability; where: string }> {
  const out: Array<{ cap: Capability; where: string }> = [];
  if (s.card.variant !== undefined || s.card.profile !== undefined) out.push({ cap: 'choose-card', where: s.where });
  if (Object.values(s.card.pins ?? {}).some((p) => p?.triesLeft !== undefined)) out.push({ cap: 'set-counter', where: s.where });
  if (s.card.behaviour && Object.keys(s.card.behaviour).length) out.push({ cap: 'behaviour', where: s.where });
  for (const step of s.steps) {
    if (step.kind === 'event') out.push({ cap: ['remove', 'insert', 'reset'].includes(step.event.type) ? 'events' : 'faults', where: step.where });
    else if (step.kind === 'issuer') out.push({ cap: 'issuer', where: step.where });
    else if (step.kind === 'client') {
      const binding = manifest?.clients[step.client];
      if (binding) out.push({ cap: binding.kind === 'exec' ? 'exec-clients' : 'module-clients', where: step.where });
    }
  }
  return out;
}

/** The reason the scenario cannot run here, or undefined. */
export function notApplicable(s: Scenario, target: Target, manifest: ClientManifest | undefined): string | undefined {
  for (const step of s.steps) {
    if (step.kind !== 'client') continue;
    if (!manifest) return `${step.where}: client "${step.client}" needs a client manifest (--clients <file>)`;
    if (!manifest.clients[step.client]) return `${step.where}: the client manifest ${manifest.file} has no client "${step.client}"`;
  }
  for (const n of needs(s, manifest)) {
    if (!target.capabilities.has(n.cap)) return `${n.where}: target ${target.kind} cannot ${NEED[n.cap]}`;
  }
  return undefined;
}
