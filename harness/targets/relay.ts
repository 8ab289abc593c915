/**
 * Target `relay`: a physical test card as for `pcsc` (the same reader regex, allow-list, lab PIN values,
 * guard and checkDrop: ./pcsc.ts, ./lab.ts), put behind the relay (harness/relay) so that exec clients
 * (OpenSC, a vendor's binary) use it too: PreparedCard.reader is the relay's vpcd reader, and every APDU
 * they send passes the guard. A refusal, a client's or the harness's, fails the run with the guard's
 * message and exit 4, even when the client swallowed the `69 83`.
 *
 * `run --record`: each scenario's session (its SessionCapture) gets what the physical card saw from the
 * scenario's start, the warm reset and the allow-list check included (as on pcsc), to its close; the
 * relay switches recorders between scenarios (Relay.record).
 */
import { openPcsc, vpcdReaderName } from '../pcsc/index.ts';
import { checkSlot, choosePhysicalReader, DEFAULT_REFUSE_SW, type Relay, refuseReply, startRelay } from '../relay/relay.ts';
import type { CardSetup, PinKind } from '../scenario/model.ts';
import type { SessionCapture } from '../session/capture.ts';
import type { SessionRecorder } from '../session/recorder.ts';
import { allowList, labPins, readerRegex } from './lab.ts';
import type { PcscTargetOptions } from './pcsc.ts';
import type { Capability, PreparedCard, Target, TraceEntry } from './target.ts';

/** The pcsc target's options (reader, allow-list, lab PINs, guard), plus the relay's own. */
export interface RelayTargetOptions extends PcscTargetOptions {
  /** The vpcd slot of the relay's reader. Default 0. */
  slot?: number;
  /** The status word a refused command is answered with (default 69 83). */
  refuseSw?: number;
}

export const RELAY_CAPABILITIES: ReadonlySet<Capability> = new Set<Capability>(['module-clients', 'exec-clients']);

export class RelayTarget implements Target {
  readonly kind = 'relay';
  readonly capabilities = RELAY_CAPABILITIES;
  private readonly pins: Record<PinKind, string>;
  private readonly trace: TraceEntry[] = [];
  private relay: Relay | undefined;

  /** Throws InputError (exit 2) for a bad regex, slot, refusal status word or PIN source, before touching PC/SC. */
  constructor(private readonly options: RelayTargetOptions) {
    checkSlot(options.slot);
    readerRegex(options.reader);
    allowList(options.allowCards ?? [], options.allowCardsFile);
    refuseReply(options.refuseSw ?? DEFAULT_REFUSE_SW);
    this.pins = labPins(options.env ?? process.env, options.pinsFile, 'the relay target') as Record<PinKind, string>;
  }

  /** The one physical reader the regex matches (the relay's own excluded), or why not. */
  async check(): Promise<string | undefined> {
    const own = vpcdReaderName(this.options.slot ?? 0);
    let ctx: Awaited<ReturnType<typeof openPcsc>> | undefined;
    try {
      ctx = await openPcsc();
      await choosePhysicalReader(ctx, readerRegex(this.options.reader), this.options.reader, own, this.options.timeoutMs ?? 10_000);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await ctx?.close();
    }
  }

  /** Starts the relay (the first time) or warm-resets the card; either way the card is checked against the allow-list. */
  async prepare(
    setup: CardSetup,
    _baseDir: string,
    scenario: { destructive: boolean; capture?: SessionCapture } = { destructive: false },
  ): Promise<PreparedCard> {
    if (setup.pins || setup.behaviour) {
      throw new Error('a physical card cannot be set up with pins: or behaviour: (the runner reports such scenarios not applicable on relay)');
    }
    const { capture } = scenario;
    const relay = await this.start(capture?.recorder);
    const id = relay.identity();
    if (id) capture?.identify({ atr: id.atr, reader: relay.physicalReader, authCertSha256: id.authCertSha256 });
    relay.guard.setScenario(scenario);
    await relay.waitVisible();
    const refusedBefore = relay.refusals.length;
    const notAllowedBefore = relay.notAllowed.length;
    const refusal = (): Error | undefined => relay.refusals[refusedBefore] ?? relay.notAllowed[notAllowedBefore];
    this.trace.length = 0; // the runner reads each scenario's trace from its start
    return {
      channel: relay.channel,
      reader: relay.virtualReader,
      pinValues: { ...this.pins },
      trace: this.trace,
      counters: () => relay.counters(),
      settle: () => relay.waitVisible(),
      // a refusal since this scenario began stops the run, whoever caught the 69 83
      checkDrop: (before, after, expected) => refusal() ?? relay.guard.checkDrop(before, after, expected),
      event: () => Promise.reject(new Error('card events are not possible on a physical card (capability "events")')),
      issuer: () => Promise.reject(new Error('issuer actions are not possible on a physical card (capability "issuer")')),
      // the exchanges queued so far end this scenario's session; the runner closes it
      close: () => (capture ? relay.record(undefined) : Promise.resolve()),
    };
  }

  async close(): Promise<void> {
    const relay = this.relay;
    this.relay = undefined;
    await relay?.stop();
  }

  /** `recorder`: the scenario's session, recording from before the warm reset (or the first check) on. */
  private async start(recorder: SessionRecorder | undefined): Promise<Relay> {
    if (this.relay) {
      await this.relay.record(recorder);
      await this.relay.resetCard();
      return this.relay;
    }
    this.relay = await startRelay({
      reader: this.options.reader,
      slot: this.options.slot,
      allowCards: this.options.allowCards,
      allowCardsFile: this.options.allowCardsFile,
      labPins: this.pins,
      floor: this.options.floor,
      allowDestructive: this.options.allowDestructive,
      refuseSw: this.options.refuseSw,
      timeoutMs: this.options.timeoutMs,
      trace: this.trace,
      recorder,
      onEvent: (e) => {
        if (e.type === 'guard') this.options.onGuardEvent?.(e.event);
      },
    });
    return this.relay;
  }
}
