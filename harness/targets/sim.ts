/**
 * Target `sim`: the card in the runner's process, no pcscd. Module clients and the harness's own card
 * actions get an in-process channel to the decorated card; exec clients need PC/SC, so a scenario with
 * one is not applicable here (run it on `vpcd`).
 */
import type { ApduChannel } from '../../simulator/card/channel.ts';
import type { CardEvent, CardSetup } from '../scenario/model.ts';
import type { SessionCapture } from '../session/capture.ts';
import { cachedGenerator, HostedCard, type ProfileSource, scenarioProfile } from './card-host.ts';
import type { Capability, PreparedCard, Target } from './target.ts';

/** What a channel throws for a card that was removed (a PC/SC client sees SCARD_W_REMOVED_CARD). */
export class CardAbsent extends Error {
  constructor() {
    super('the card is not in the reader (removed by the scenario)');
    this.name = 'CardAbsent';
  }
}

export const SIM_CAPABILITIES: ReadonlySet<Capability> = new Set<Capability>([
  'choose-card',
  'set-counter',
  'behaviour',
  'events',
  'faults',
  'issuer',
  'module-clients',
]);

export interface SimTargetOptions {
  /** Profiles per variant; default: generated once per variant for this target. */
  profiles?: ProfileSource;
}

export function simTarget(options: SimTargetOptions = {}): Target {
  const profiles = options.profiles ?? cachedGenerator();
  return {
    kind: 'sim',
    capabilities: SIM_CAPABILITIES,
    check: async () => undefined,
    async prepare(setup: CardSetup, baseDir: string, scenario?: { capture?: SessionCapture }): Promise<PreparedCard> {
      const { profile, name } = await scenarioProfile(setup, baseDir, profiles);
      const host = new HostedCard(profile, name);
      host.record(scenario?.capture);
      return simCard(host);
    },
    close: async () => {},
  };
}

function simCard(host: HostedCard): PreparedCard {
  let present = true;
  // in process, the target knows who sends: the client's channel and the harness's own
  const channelFor = (by: 'client' | 'harness'): ApduChannel => ({
    transmit: async (command) => {
      if (!present) throw new CardAbsent();
      return host.faulty.transmit(command, by);
    },
  });
  return {
    channel: channelFor('client'),
    harnessChannel: channelFor('harness'),
    pinValues: host.pinValues,
    trace: host.trace,
    counters: async () => host.counters(),
    async event(event: CardEvent) {
      if (event.type === 'remove' || event.type === 'insert') host.faulty.recorder?.power(event.type);
      if (event.type === 'remove') {
        present = false;
        host.faulty.powerDown();
      } else if (event.type === 'insert') {
        present = true;
        host.faulty.powerUp();
      } else if (event.type === 'reset') host.faulty.reset();
      else host.fault(event);
    },
    issuer: async (action, pin, value) => host.issuer(action, pin, value),
    close: async () => {},
  };
}
