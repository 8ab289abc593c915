/**
 * The two sides of a relayed session, in the shape the recorder writes: what the stand-in card saw
 * (its vpcd exchanges) and what a recorded session says reached the card.
 */
import { toHex } from '../../simulator/apdu/codec.ts';
import { carriesPin } from '../../simulator/apdu/trace.ts';
import type { VpcdExchange } from '../../simulator/transport/vpcd/messages.ts';
import type { SessionLine } from '../../harness/session/format.ts';

/** What the stand-in card saw, as the recorder writes it: PIN-carrying commands as their header only. */
export function standInTrace(exchanges: VpcdExchange[]): Array<[string, string]> {
  return exchanges
    .filter((e) => e.kind === 'apdu' && e.command && e.reply)
    .map((e) => [toHex(carriesPin(e.command!) ? e.command!.subarray(0, 4) : e.command!), toHex(e.reply!)]);
}

/** The commands the recorder says reached the card, each with the card's response (guard answers left out). */
export function recordedTrace(lines: readonly SessionLine[]): Array<[string, string]> {
  const commands = new Map<number, string>();
  const out: Array<[string, string]> = [];
  for (const l of lines) {
    if (l.type === 'command') commands.set(l.seq, l.apdu);
    if (l.type === 'response' && l.from === undefined) out.push([commands.get(l.seq)!, l.apdu]);
  }
  return out;
}
