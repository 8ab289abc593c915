/**
 * A recorded card session, as JSON Lines (`myna-hil/session`, version 1): what one card saw, in order,
 * at the card boundary of whichever target carried it (sim, vpcd, pcsc, relay, serve).
 *
 * Line 1 is the {@link SessionHeader}; every later line is one {@link SessionEvent} with `t`, the
 * milliseconds since the session started on a monotonic clock (performance.now), never the wall clock.
 *
 * PIN data is masked when captured and never written: a command that may carry a PIN (INS 20 with
 * data, 24, 2C, 32; simulator/apdu/trace.ts `carriesPin`) is stored as its 4-byte header with
 * `masked: true`. Its Lc is dropped too, since the length of a sign password is secret. A replay puts
 * a value back from the profile (harness/session/replay.ts).
 */
import type { GuardEvent } from '../targets/guard.ts';

export const SESSION_FORMAT = 'myna-hil/session';
export const SESSION_VERSION = 1;

/** Where the session was recorded. `serve` is `myna-hil serve`; the others are `myna-hil run --target` values or `relay`. */
export type SessionTarget = 'sim' | 'vpcd' | 'pcsc' | 'relay' | 'serve';

export interface SessionHeader {
  type: 'header';
  format: typeof SESSION_FORMAT;
  version: typeof SESSION_VERSION;
  /** Wall-clock start, ISO 8601 (for people; `t` of the events is monotonic). */
  createdAt: string;
  target: SessionTarget;
  harness: { name: 'myna-hil'; version: string };
  /** The card's ATR, hex (upper case, no spaces). */
  atr: string;
  /** The PC/SC reader the card was in (vpcd, pcsc, relay: the physical one). */
  reader?: string;
  card: {
    /** SHA-256 (hex, lower case) of the card's JPKI auth certificate DER: the card's identity. */
    authCertSha256?: string;
    /** The profile the card was built from (simulated cards), as given. */
    profile?: string;
  };
  /** The scenario the session belongs to, when a run recorded it. */
  scenario?: { file: string; name: string };
}

/**
 * Who sent a command: the client under test; the harness itself (its card actions, the allow-list
 * check, counters read between steps); or the guard (its tries-left query before a PIN command).
 */
export type CommandOrigin = 'client' | 'harness' | 'guard';

/**
 * Who produced a response: the card, or something in front of it that answered instead (the guard's
 * refusal, an injected fault). A replay compares only the card's own answers.
 */
export type ResponseOrigin = 'card' | 'guard' | 'fault';

export type SessionEvent =
  | { t: number; type: 'power-on' | 'power-off' | 'reset' | 'remove' | 'insert' }
  | {
      t: number;
      type: 'command';
      /** Pairs the command with its response. Starts at 1. */
      seq: number;
      /** Hex of the whole command, or of its 4-byte header only when `masked`. */
      apdu: string;
      /** PIN data was present and is not written (its Lc neither). */
      masked?: true;
      by?: CommandOrigin;
    }
  | {
      t: number;
      type: 'response';
      seq: number;
      /** Hex of the whole response (data + SW1 SW2). */
      apdu: string;
      /** Time from the command to this response, in milliseconds. */
      ms: number;
      /** Absent means 'card'. */
      from?: Exclude<ResponseOrigin, 'card'>;
    }
  /** The command `seq` got no response: the card lost power or was removed mid-command. */
  | { t: number; type: 'no-response'; seq: number; reason: string }
  /** A fault the harness injected (scenario events `latency`, `inject-sw`, `power-loss`, `cut-response`). */
  | {
      t: number;
      type: 'fault';
      fault: string;
      /** The command the fault hit, when it hit one (added in version 1, optional). */
      seq?: number;
      /**
       * Whether that command reached the card (a cut response, a power loss after the counter write:
       * the card acted on it) or not (an injected status word answered instead of the card). A replay
       * sends a command that reached the card, without comparing its answer, so that the card's state
       * follows; it does not send one that did not.
       */
      reachedCard?: boolean;
      /**
       * The status word the card gave (4 hex digits) when the fault cut its answer (added in version 1,
       * optional): a replay rebuilds a masked command that reached the card from it (the right PIN for
       * `9000`), so that the card's state follows. Never data: only the status word.
       */
      cardSw?: string;
    }
  /** What the guard did (commands in it are redacted). */
  | { t: number; type: 'guard'; event: GuardEvent };

export type SessionLine = SessionHeader | SessionEvent;
