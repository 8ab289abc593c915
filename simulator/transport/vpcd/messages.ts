/**
 * What a card answers to each vpcd message (docs/pcsc-stack.md §5.3-§5.5).
 *
 * | payload from vpcd            | card action          | reply                                   |
 * |------------------------------|----------------------|-----------------------------------------|
 * | 1 byte 00 POWER OFF          | card.powerDown()     | none                                    |
 * | 1 byte 01 POWER ON           | card.powerUp()       | none                                    |
 * | 1 byte 02 RESET              | card.reset()         | none                                    |
 * | 1 byte 04 GET ATR (presence) | card.atr()           | the ATR, in every power state           |
 * | any other 1 byte             | protocol violation   | none: the connection is closed          |
 * | 2 bytes or more: a C-APDU    | card.transmit()      | the R-APDU; 6F00 if the card throws (or |
 * |                              |                      | rejects) or                             |
 * |                              |                      | returns fewer than 2 / more than 65535  |
 * |                              | throws `PowerLoss`   | none: the connection is closed (below)  |
 *
 * Invariant: every GET ATR and every APDU gets exactly one non-empty reply, at once. vpcd has no
 * timeouts; a missing or empty reply freezes the reader for every PC/SC client.
 *
 * The one exception to "a throwing transmit is answered 6F00": an error named `PowerLoss`, the card
 * core's fault-injection seam for "power lost mid-command" (simulator/card/card.ts), after which a
 * card answers nothing. Answering nothing would freeze vpcd, and 6F00 would be a lie, so the
 * connection is closed: vpcd and its clients then see exactly what a card dying mid-APDU looks like
 * (docs/pcsc-stack.md §5.5: an empty response, then SCARD_E_NOT_TRANSACTED, then SCARD_W_REMOVED_CARD), and
 * in connect mode the card is inserted again by the transport's reconnection.
 *
 * Why an unknown 1-byte code closes the connection rather than being answered: the protocol defines
 * every 1-byte payload as a control code, and vpcd itself only sends 00/01/02/04. Another value means
 * the peer is not speaking vpcd (or a PC/SC client transmitted a 1-byte "APDU", which vpcd forwards
 * unchanged and which no card can answer reliably: see pitfall 17). Closing is a card removal, which
 * vpcd and every PC/SC client handle; a guessed reply could desynchronise the stream.
 */
import type { CardPort, MaybePromise, SmartCard } from '../../card/types.ts';
import { MAX_PAYLOAD } from './framing.ts';

export const VpcdControl = {
  POWER_OFF: 0x00,
  POWER_ON: 0x01,
  RESET: 0x02,
  GET_ATR: 0x04,
} as const;

/** 6F 00: no precise diagnosis. The reply when the card fails to produce a usable response. */
export const SW_NO_PRECISE_DIAGNOSIS = Uint8Array.of(0x6f, 0x00);

export type VpcdMessageKind = 'power-off' | 'power-on' | 'reset' | 'get-atr' | 'apdu';

export interface VpcdExchange {
  kind: VpcdMessageKind;
  /** The C-APDU (kind 'apdu' only). Contains PIN data for VERIFY/CHANGE: redact before logging. */
  command?: Uint8Array;
  /** The payload sent back (GET ATR and APDU), undefined for power controls. */
  reply?: Uint8Array;
  /** Set when the card misbehaved (threw, or answered something unusable) and a fallback was sent. */
  fault?: string;
  /** Wall time spent inside the card, in milliseconds. */
  cardMs: number;
}

export type VpcdHandleResult =
  | { ok: true; exchange: VpcdExchange }
  /** Close the connection without replying: malformed input ('protocol') or a card power loss. */
  | { ok: false; reason: string; cause: 'protocol' | 'power-loss' };

/**
 * Adapts a {@link SmartCard} to vpcd messages. Holds the card's power state as vpcd drives it and the
 * last good ATR (answered if the card's atr() ever throws). One responder per card, kept across
 * connections: a removal followed by an insertion is the same card.
 *
 * An {@link AsyncSmartCard} (the relay's) may answer with promises: {@link handle} then returns a
 * promise of the same result, with the same rules (a rejection is a throw). A synchronous card's
 * answers are never wrapped in a promise: the simulator's path costs one `instanceof` per call.
 */
export class VpcdResponder<C extends CardPort = SmartCard> {
  private powered = false;
  private lastAtr: Uint8Array | undefined;

  constructor(readonly card: C) {}

  get isPowered(): boolean {
    return this.powered;
  }

  /** Handles one frame payload. Never throws (and the promise, for an asynchronous card, never rejects). */
  handle(this: VpcdResponder<SmartCard>, payload: Uint8Array): VpcdHandleResult;
  handle(payload: Uint8Array): MaybePromise<VpcdHandleResult>;
  handle(payload: Uint8Array): MaybePromise<VpcdHandleResult> {
    const t0 = performance.now();
    if (payload.length === 0) return { ok: false, reason: 'zero-length payload', cause: 'protocol' };
    if (payload.length === 1) {
      const code = payload[0];
      switch (code) {
        case VpcdControl.POWER_OFF:
          return this.power('power-off', () => this.card.powerDown(), false, t0);
        case VpcdControl.POWER_ON:
          return this.power('power-on', () => this.card.powerUp(), true, t0);
        case VpcdControl.RESET:
          return this.power('reset', () => this.card.reset(), true, t0);
        case VpcdControl.GET_ATR:
          return this.getAtr(t0);
        default:
          return {
            ok: false,
            reason: `unknown 1-byte control code 0x${code.toString(16).padStart(2, '0')} (vpcd sends only 00, 01, 02, 04)`,
            cause: 'protocol',
          };
      }
    }
    let r: MaybePromise<Uint8Array>;
    try {
      r = this.card.transmit(payload);
    } catch (err) {
      return this.transmitFailed(payload, err, t0);
    }
    if (r instanceof Promise)
      return r.then(
        (v) => this.transmitDone(payload, v, t0),
        (err: unknown) => this.transmitFailed(payload, err, t0),
      );
    return this.transmitDone(payload, r, t0);
  }

  /** Called by the transport when the card leaves the reader (socket closed): the card loses power. */
  removed(): string | undefined {
    if (!this.powered) return undefined;
    this.powered = false;
    try {
      const r = this.card.powerDown();
      // an asynchronous card's failure cannot be reported here any more: it is its own to log
      if (r instanceof Promise) r.catch(() => {});
      return undefined;
    } catch (err) {
      return `card powerDown threw on removal: ${describe(err)}`;
    }
  }

  private transmitDone(payload: Uint8Array, r: unknown, t0: number): VpcdHandleResult {
    let reply: Uint8Array;
    let fault: string | undefined;
    if (!(r instanceof Uint8Array)) return this.transmitFailed(payload, new TypeError(`transmit returned ${typeof r}, not a Uint8Array`), t0);
    if (r.length < 2) {
      fault = `card answered ${r.length} bytes (a response APDU has at least SW1 SW2); sent 6F00`;
      reply = SW_NO_PRECISE_DIAGNOSIS;
    } else if (r.length > MAX_PAYLOAD) {
      fault = `card answered ${r.length} bytes, more than a vpcd frame carries (${MAX_PAYLOAD}); sent 6F00`;
      reply = SW_NO_PRECISE_DIAGNOSIS;
    } else reply = r;
    return { ok: true, exchange: { kind: 'apdu', command: payload, reply, fault, cardMs: performance.now() - t0 } };
  }

  private transmitFailed(payload: Uint8Array, err: unknown, t0: number): VpcdHandleResult {
    if (err instanceof Error && err.name === 'PowerLoss') {
      this.powered = false;
      return { ok: false, reason: `card lost power mid-command (${err.message})`, cause: 'power-loss' };
    }
    const fault = `card transmit threw: ${describe(err)}; sent 6F00`;
    return { ok: true, exchange: { kind: 'apdu', command: payload, reply: SW_NO_PRECISE_DIAGNOSIS, fault, cardMs: performance.now() - t0 } };
  }

  private power(kind: VpcdMessageKind, op: () => MaybePromise<void>, powered: boolean, t0: number): MaybePromise<VpcdHandleResult> {
    const done = (fault?: string): VpcdHandleResult => {
      this.powered = powered;
      return { ok: true, exchange: { kind, fault, cardMs: performance.now() - t0 } };
    };
    const failed = (err: unknown) => done(`card ${kind} threw: ${describe(err)}`);
    try {
      const r = op();
      return r instanceof Promise ? r.then(() => done(), failed) : done();
    } catch (err) {
      return failed(err);
    }
  }

  private getAtr(t0: number): MaybePromise<VpcdHandleResult> {
    const done = (atr: { atr?: Uint8Array; fault?: string }): VpcdHandleResult => {
      if (!atr.atr) return { ok: false, reason: `card has no ATR to answer GET ATR with (${atr.fault})`, cause: 'protocol' };
      return { ok: true, exchange: { kind: 'get-atr', reply: atr.atr, fault: atr.fault, cardMs: performance.now() - t0 } };
    };
    try {
      const a = this.card.atr();
      return a instanceof Promise
        ? a.then(
            (v) => done(this.atrChecked(v)),
            (err: unknown) => done(this.atrFailed(err)),
          )
        : done(this.atrChecked(a));
    } catch (err) {
      return done(this.atrFailed(err));
    }
  }

  private atrChecked(a: unknown): { atr?: Uint8Array; fault?: string } {
    if (!(a instanceof Uint8Array) || a.length === 0 || a.length > MAX_PAYLOAD) {
      return this.atrFailed(new TypeError(`atr() returned ${a instanceof Uint8Array ? `${a.length} bytes` : typeof a}`));
    }
    this.lastAtr = a;
    return { atr: a };
  }

  private atrFailed(err: unknown): { atr?: Uint8Array; fault?: string } {
    const fault = `card atr() failed: ${describe(err)}`;
    return this.lastAtr ? { atr: this.lastAtr, fault: `${fault}; answered the last good ATR` } : { fault };
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
