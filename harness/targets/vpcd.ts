/**
 * Target `vpcd`: the runner hosts the card (the same decorated card as `sim`, ./card-host.ts) and
 * serves it into a vpcd slot of pcscd with simulator/transport/vpcd, as `myna-hil serve` does. Exec
 * clients use real PC/SC with `{reader}`; the harness's own card actions and module clients go through
 * PC/SC too (harness/pcsc), so every client sees the card the same way. The runner still sees every
 * APDU (the decorator's trace) and every counter directly, and injects the card events.
 */
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { VpcdTransport } from '../../simulator/transport/vpcd/index.ts';
import { checkPcscEnv } from '../pcsc/env.ts';
import { waitFor } from '../wait.ts';
import { openPcsc, type PcscCard, type PcscContext, vpcdReaderName } from '../pcsc/index.ts';
import type { CardEvent, CardSetup } from '../scenario/model.ts';
import type { SessionCapture } from '../session/capture.ts';
import { cachedGenerator, HostedCard, type ProfileSource, scenarioProfile } from './card-host.ts';
import { SIM_CAPABILITIES } from './sim.ts';
import type { Capability, PreparedCard, Target } from './target.ts';

/** What sim can do, and exec clients: the card is in a real PC/SC reader. */
export const VPCD_CAPABILITIES: ReadonlySet<Capability> = new Set<Capability>([...SIM_CAPABILITIES, 'exec-clients']);

export interface VpcdTargetOptions {
  /** vpcd slot: 0 (`Virtual PCD 00 00`) or 1 with Debian's vpcd. Default 0. */
  slot?: number;
  profiles?: ProfileSource;
  /** Deadline for the reader to show the card present or absent. Default 10 s. */
  presenceTimeoutMs?: number;
}

const quiet = { info: () => {}, warn: () => {} };

export function vpcdTarget(options: VpcdTargetOptions = {}): Target {
  const slot = options.slot ?? 0;
  const reader = vpcdReaderName(slot);
  const profiles = options.profiles ?? cachedGenerator();
  const timeoutMs = options.presenceTimeoutMs ?? 10_000;
  let ctx: PcscContext | undefined;
  const context = async (): Promise<PcscContext> => {
    ctx ??= await openPcsc();
    return ctx;
  };
  return {
    kind: 'vpcd',
    capabilities: VPCD_CAPABILITIES,
    async check() {
      const env = checkPcscEnv();
      if (!env.available) return env.reason;
      try {
        await (await context()).waitForReader(reader, { timeoutMs: 5000 });
      } catch (err) {
        return `pcscd has no reader "${reader}" (vpcd slot ${slot}): ${(err as Error).message}`;
      }
      return undefined;
    },
    async prepare(setup: CardSetup, baseDir: string, scenario?: { capture?: SessionCapture }): Promise<PreparedCard> {
      const { profile, name } = await scenarioProfile(setup, baseDir, profiles);
      const c = await context();
      // The previous scenario's card must be out first, or a client could talk to the old one.
      try {
        await c.waitForCard(reader, 'absent', { timeoutMs });
      } catch {
        throw new Error(`another card is in "${reader}" (is a myna-hil serve or another run using vpcd slot ${slot}?); stop it, or run on another --slot`);
      }
      const host = new HostedCard(profile, name);
      host.record(scenario?.capture, reader);
      const transport = new VpcdTransport({ card: host.faulty, slot, logger: quiet });
      try {
        await transport.start();
        const card = new VpcdCard(host, transport, c, reader, timeoutMs);
        await card.settle();
        return card.prepared();
      } catch (err) {
        await transport.stop(); // never leave a card in the reader that no scenario owns
        throw err;
      }
    },
    async close() {
      await ctx?.close();
      ctx = undefined;
    },
  };
}

/** One scenario's card in the vpcd slot, and the runner's own PC/SC handle to it. */
class VpcdCard {
  private handle: PcscCard | undefined;
  /** vpcd's insertion count and pcscd's event count at the last connect: a new insertion needs a new handle. */
  private lastConnect: { insertion: number; events: number } | undefined;

  constructor(
    private readonly host: HostedCard,
    private readonly transport: VpcdTransport,
    private readonly ctx: PcscContext,
    private readonly reader: string,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Waits until pcscd shows the card as the scenario wants it: absent after a removal; otherwise polled
   * by vpcd and, when it went back into the reader since the runner's last connect (insert, power loss),
   * seen by pcscd as a new insertion, so that no one talks to the old session.
   */
  async settle(): Promise<void> {
    if (!this.transport.status().inserted) {
      await this.ctx.waitForCard(this.reader, 'absent', { timeoutMs: this.timeoutMs });
      return;
    }
    await waitFor(() => this.transport.status().visible, { timeoutMs: this.timeoutMs, what: `vpcd to poll the card in slot ${this.transport.status().slot}` });
    const reinserted = this.lastConnect !== undefined && this.transport.status().insertions !== this.lastConnect.insertion;
    if (reinserted) {
      const before = this.lastConnect!.events;
      await this.drop();
      await this.ctx.waitForState(
        this.reader,
        (s) => s.present && !s.mute && s.eventCount !== before,
        { timeoutMs: this.timeoutMs },
        `the card back in "${this.reader}"`,
      );
      this.lastConnect = undefined;
    } else await this.ctx.waitForCard(this.reader, 'present', { timeoutMs: this.timeoutMs });
  }

  private async connected(): Promise<PcscCard> {
    if (!this.handle) {
      this.handle = await this.ctx.connect(this.reader);
      this.lastConnect = { insertion: this.transport.status().insertions, events: this.ctx.readerState(this.reader)?.eventCount ?? -1 };
    }
    return this.handle;
  }

  private async drop(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.disconnect('leave').catch(() => {});
  }

  readonly channel: ApduChannel = {
    transmit: async (command) => {
      const card = await this.connected();
      try {
        return await card.transmit(command);
      } catch (err) {
        await this.drop(); // a removed or reset card: the next command connects again
        throw err;
      }
    },
  };

  /** The harness's own card actions: announced to the card's recorder so that they are recorded as `by: 'harness'`. */
  readonly harnessChannel: ApduChannel = {
    transmit: (command) => {
      if (this.host.faulty.recorder) this.host.faulty.expectFromHarness(command);
      return this.channel.transmit(command);
    },
  };

  private async event(event: CardEvent): Promise<void> {
    if (event.type === 'remove' || event.type === 'insert') this.host.faulty.recorder?.power(event.type);
    if (event.type === 'remove') {
      await this.drop();
      await this.transport.remove();
    } else if (event.type === 'insert') await this.transport.insert();
    else if (event.type === 'reset') {
      const fault = this.transport.reset();
      if (fault) throw new Error(fault);
    } else this.host.fault(event);
    if (event.type === 'remove' || event.type === 'insert') await this.settle();
  }

  prepared(): PreparedCard {
    return {
      channel: this.channel,
      harnessChannel: this.harnessChannel,
      reader: this.reader,
      pinValues: this.host.pinValues,
      trace: this.host.trace,
      counters: async () => this.host.counters(),
      event: (e) => this.event(e),
      issuer: async (action, pin, value) => this.host.issuer(action, pin, value),
      settle: () => this.settle(),
      close: async () => {
        await this.drop();
        await this.transport.stop();
      },
    };
  }
}
