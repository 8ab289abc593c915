/**
 * A target gives the runner a card to act on and, where it can, control over it: `sim` (the card in
 * the runner's process), `vpcd` (the runner's card served into a vpcd reader of pcscd, so that real
 * PC/SC clients use it), `pcsc` (a physical card in a named reader). Capabilities are explicit: what a
 * target cannot do makes a scenario "not applicable on this target", with the reason, never a pass.
 */
import type { ApduChannel } from '../../simulator/card/channel.ts';
import type { CardEvent, CardExpect, CardSetup, PinKind } from '../scenario/model.ts';
import type { PinCounters } from '../runner/events.ts';
import type { SessionCapture } from '../session/capture.ts';

export type Capability =
  | 'choose-card' // make the card the scenario asks for (card.variant, card.profile)
  | 'set-counter' // start a PIN at a given tries-left
  | 'behaviour' // override profile behaviour options
  | 'events' // remove / insert / reset
  | 'faults' // latency, inject-sw, power loss, cut response
  | 'issuer' // reset counter, set PIN, re-initialise the sign password
  | 'exec-clients' // third-party programs over PC/SC
  | 'module-clients'; // TypeScript drivers over an ApduChannel

/** One exchange the target saw (every target that hosts the card sees all of them). */
export interface TraceEntry {
  command: Uint8Array;
  response: Uint8Array;
  ms: number;
}

export interface PreparedCard {
  /** For module clients (and the harness's own card actions when there is no {@link harnessChannel}). */
  channel: ApduChannel;
  /**
   * For the harness's own card actions, where the target can tell them apart from a client's in the
   * recorded session (`by: 'harness'`). Optional: without it the runner uses {@link channel}.
   */
  harnessChannel?: ApduChannel;
  /** The PC/SC reader name exec clients use (vpcd, pcsc); undefined on sim. */
  reader?: string;
  /** The run's PIN values (masked in every output); from the profile on sim/vpcd, from the lab on pcsc. */
  pinValues: Record<PinKind, string>;
  /** Every exchange so far, in order (the runner slices it per step). */
  trace: TraceEntry[];
  /** Tries left and lock per PIN, read without spending a try. */
  counters(): Promise<PinCounters>;
  event(event: CardEvent): Promise<void>;
  issuer(action: 'reset-counter' | 'set-pin' | 'reinit-sign-password', pin?: PinKind, value?: string): Promise<void>;
  close(): Promise<void>;
  /**
   * Called by the runner before each step: resolves once the card is where the scenario left it
   * (vpcd: present in the reader again after a power loss, before a client looks for it). Optional.
   */
  settle?(): Promise<void>;
  /**
   * A reason to stop the run after a step, as an error with exit code 4, or undefined: a counter that
   * dropped in a way the step's `expect.card` did not name, or a refusal of the guard that a client
   * caught. The runner asks after every step (pcsc: a physical card must never lose tries behind the
   * lab's back). Optional.
   */
  checkDrop?(before: PinCounters, after: PinCounters, expected?: CardExpect): Error | undefined;
}

export interface Target {
  readonly kind: 'sim' | 'vpcd' | 'pcsc' | 'relay';
  readonly capabilities: ReadonlySet<Capability>;
  /** Why the environment cannot run this target (no pcscd, no reader), or undefined. Exit code 3. */
  check(): Promise<string | undefined>;
  /**
   * A card in the state the scenario's `card:` asks for. `baseDir` resolves a relative profile path.
   * `scenario.destructive` (with the run's `--allow-destructive`) lets the pcsc guard spend last tries.
   * `scenario.capture` records the session (`myna-hil run --record`): the target identifies the card
   * to it and records what the card sees from then on, until the card is closed.
   */
  prepare(setup: CardSetup, baseDir: string, scenario?: { destructive: boolean; capture?: SessionCapture }): Promise<PreparedCard>;
  close(): Promise<void>;
}
