/**
 * Fault injection and tracing around a card, in the style of apdu4j's SmartCard decorators: the card
 * is wrapped, never changed. {@link FaultyCard} records every exchange in the trace (what the client
 * saw, faults included) and applies the scenario's fault events; {@link PowerCutStore} wraps the card's
 * state store to lose the power right after a retry counter was written. Both the sim and the vpcd
 * target use them, so a fault means the same on each.
 */
import { toHex } from '../../simulator/apdu/codec.ts';
import { InputError } from '../../simulator/errors.ts';
import { PowerLoss } from '../../simulator/pin/pin.ts';
import type { SmartCard } from '../../simulator/card/types.ts';
import type { CardStateDoc, StateStore } from '../../simulator/state/store.ts';
import type { ApduPattern, CardEvent } from '../scenario/model.ts';
import { assertPattern, assertSwPattern, commandMatches } from '../runner/expect.ts';
import type { CommandOrigin } from '../session/format.ts';
import type { SessionRecorder } from '../session/recorder.ts';
import type { TraceEntry } from './target.ts';

/**
 * A StateStore that, when armed, throws PowerLoss after the next save that lowered a retry counter
 * (the write landed, then the power went: docs/card.md §12.16). The card then answers nothing.
 */
export class PowerCutStore implements StateStore {
  private armed = false;
  private last: CardStateDoc | undefined;

  constructor(private readonly inner: StateStore) {
    this.last = inner.load();
  }

  get location(): string {
    return this.inner.location;
  }

  arm(): void {
    this.armed = true;
  }

  get isArmed(): boolean {
    return this.armed;
  }

  load(): CardStateDoc | undefined {
    return this.inner.load();
  }

  save(doc: CardStateDoc): void {
    const before = this.last;
    this.inner.save(doc);
    this.last = structuredClone(doc);
    if (this.armed && lowersACounter(before, doc)) {
      this.armed = false;
      throw new PowerLoss();
    }
  }

  close(): void {
    this.inner.close?.();
  }
}

function lowersACounter(before: CardStateDoc | undefined, after: CardStateDoc): boolean {
  if (!before) return false;
  return Object.entries(after.pins).some(([id, st]) => {
    const old = before.pins[id as keyof CardStateDoc['pins']];
    return old !== undefined && st !== undefined && st.remaining < old.remaining;
  });
}

/** Blocks for `ms` without spinning: SmartCard.transmit is synchronous, so latency cannot be awaited. */
function blockFor(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

interface Injection {
  response: Uint8Array;
  match: ApduPattern;
  left: number;
}

/** One line for the session's `fault` event. */
function describeFault(event: CardEvent): string {
  switch (event.type) {
    case 'latency':
      return `latency: ${event.ms} ms added to ${event.ins ? `INS ${event.ins.toUpperCase()}` : 'every command'}`;
    case 'inject-sw':
      return `inject-sw armed: ${event.sw.toUpperCase()} for ${event.times} matching command(s)`;
    case 'cut-response':
      return `cut-response armed: the next answer cut to ${event.bytes} bytes`;
    case 'power-loss-after-counter-write':
      return 'power-loss-after-counter-write armed';
    default:
      return event.type;
  }
}

const swBytes = (sw: string): Uint8Array => Uint8Array.of(Number.parseInt(sw.slice(0, 2), 16), Number.parseInt(sw.slice(2, 4), 16));

/** The card with the scenario's faults applied and every exchange traced. */
export class FaultyCard implements SmartCard {
  readonly trace: TraceEntry[] = [];
  /** Added latency: `*` for every command, or per INS (upper-case hex); the INS entry wins. */
  private readonly latency = new Map<string, number>();
  private readonly injections: Injection[] = [];
  private cutNext: number | undefined;
  /** Where the session is recorded (`myna-hil run --record`), or undefined. */
  recorder: SessionRecorder | undefined;
  /** Commands the harness itself is about to send through PC/SC (vpcd), to tell them from the client's. */
  private readonly harnessPending: Uint8Array[] = [];

  constructor(
    private readonly card: SmartCard,
    private readonly store: PowerCutStore,
  ) {}

  atr(): Uint8Array {
    return this.card.atr();
  }
  powerUp(): void {
    this.recorder?.power('power-on');
    this.card.powerUp();
  }
  powerDown(): void {
    this.recorder?.power('power-off');
    this.card.powerDown();
  }
  reset(): void {
    this.recorder?.power('reset');
    this.card.reset();
  }

  /**
   * The harness is about to send `command` through a reader (vpcd target): when it arrives it is
   * recorded as the harness's. Exchanges through a reader carry no sender, so this is the only way
   * to tell; a client sending the very same bytes at the same moment could be taken for the harness.
   */
  expectFromHarness(command: Uint8Array): void {
    this.harnessPending.push(command.slice());
  }

  private originOf(command: Uint8Array, by: CommandOrigin | undefined): CommandOrigin {
    if (by) return by;
    const i = this.harnessPending.findIndex((c) => c.length === command.length && c.every((b, k) => b === command[k]));
    if (i < 0) return 'client';
    this.harnessPending.splice(i, 1);
    return 'harness';
  }

  /** Applies a fault event; false for an event that is not a fault (remove, insert, reset). */
  apply(event: CardEvent): boolean {
    const applied = this.applyFault(event);
    if (applied) this.recorder?.fault(describeFault(event));
    return applied;
  }

  private applyFault(event: CardEvent): boolean {
    switch (event.type) {
      case 'latency':
        this.latency.set(event.ins?.toUpperCase() ?? '*', event.ms);
        return true;
      case 'inject-sw':
        assertSwPattern(event.sw, 'event.sw');
        if (/x/i.test(event.sw)) throw new InputError(`event.sw: "${event.sw}" has a wildcard; an injected status word is 4 hex digits`);
        assertPattern(event.match, 'event.match');
        this.injections.push({ response: swBytes(event.sw), match: event.match, left: event.times });
        return true;
      case 'cut-response':
        this.cutNext = event.bytes;
        return true;
      case 'power-loss-after-counter-write':
        this.store.arm();
        return true;
      default:
        return false;
    }
  }

  /** `by`: who sent it, when the caller knows (sim); otherwise the harness's announced commands or the client. */
  transmit(command: Uint8Array, by?: CommandOrigin): Uint8Array {
    const cmd = command.slice();
    const seq = this.recorder?.command(cmd, this.originOf(cmd, by));
    const t0 = performance.now();
    blockFor(this.latencyFor(cmd));
    let response: Uint8Array;
    const injected = this.takeInjection(cmd);
    try {
      response = injected ?? this.card.transmit(cmd);
    } catch (err) {
      // Power lost mid-command: the client sees no answer at all; the trace records an empty one.
      if (err instanceof PowerLoss) this.trace.push({ command: cmd, response: new Uint8Array(0), ms: performance.now() - t0 });
      if (seq !== undefined) {
        if (err instanceof PowerLoss) this.recorder?.fault('power lost right after the retry counter was written', { seq, reachedCard: true });
        this.recorder?.noResponse(seq, err instanceof PowerLoss ? 'power lost mid-command' : `the card failed: ${(err as Error)?.message ?? err}`);
      }
      throw err;
    }
    if (injected && seq !== undefined) {
      this.recorder?.fault(`inject-sw: answered ${toHex(injected)} instead of the card, which did not see the command`, { seq, reachedCard: false });
      this.recorder?.response(seq, injected, 'fault');
    }
    if (this.cutNext !== undefined) {
      const whole = response;
      const full = whole.length;
      response = response.slice(0, this.cutNext);
      this.cutNext = undefined;
      if (seq !== undefined && !injected) {
        // the status word only (never data): the replay rebuilds a masked command from it
        const cardSw = full >= 2 ? { cardSw: toHex(whole.subarray(full - 2)) } : {};
        this.recorder?.fault(`cut-response: the card's answer of ${full} bytes cut to ${response.length}`, { seq, reachedCard: true, ...cardSw });
        this.recorder?.noResponse(seq, `response cut to ${response.length} of ${full} bytes (fault)`);
      }
    } else if (seq !== undefined && !injected) this.recorder?.response(seq, response);
    this.trace.push({ command: cmd, response: response.slice(), ms: performance.now() - t0 });
    return response;
  }

  private latencyFor(cmd: Uint8Array): number {
    const ins = cmd.length >= 2 ? cmd[1].toString(16).toUpperCase().padStart(2, '0') : '';
    return this.latency.get(ins) ?? this.latency.get('*') ?? 0;
  }

  private takeInjection(cmd: Uint8Array): Uint8Array | undefined {
    const i = this.injections.findIndex((j) => j.left > 0 && commandMatches(j.match, cmd));
    if (i < 0) return undefined;
    const j = this.injections[i];
    if (--j.left === 0) this.injections.splice(i, 1);
    return j.response.slice();
  }
}
