/**
 * Driving the example kiosks in tests: a channel that records every command and status word, a
 * scripted terminal (prompt → reply by substring, every prompt and printed line kept), and cards with
 * a chosen counter.
 */
import { inProcessChannel, type ApduChannel } from '../../simulator/card/channel.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import type { KioskIo } from '../../examples/kiosk/kiosk.ts';
import { testCard, tx, verifyCmd } from '../support/card.ts';

export interface Sent {
  command: Uint8Array;
  sw: number;
}

/** An in-process channel that keeps what the client sent and what the card answered. */
export function recorded(card: VirtualCard): { channel: ApduChannel; sent: Sent[] } {
  const inner = inProcessChannel(card);
  const sent: Sent[] = [];
  return {
    sent,
    channel: {
      async transmit(command) {
        const r = await inner.transmit(command);
        sent.push({ command: Uint8Array.from(command), sw: (r[r.length - 2] << 8) | r[r.length - 1] });
        return r;
      },
    },
  };
}

const isVerify = (s: Sent): boolean => s.command[1] === 0x20;
/** `00 20 00 80` with nothing after it: the tries-left query. */
export const isQuery = (s: Sent): boolean => isVerify(s) && s.command.length === 4;
export const isVerifyWithData = (s: Sent): boolean => isVerify(s) && s.command.length > 5;
/** The data of a VERIFY with data (short APDU: Lc at offset 4). */
export const verifyData = (s: Sent): string => Buffer.from(s.command.subarray(5, 5 + s.command[4])).toString('latin1');

/** The file ID of the last SELECT EF (`00 A4 02 0C 02 <fid>`) before command `index`. */
export function selectedEfAt(sent: Sent[], index: number): number | undefined {
  for (let i = index - 1; i >= 0; i--) {
    const c = sent[i].command;
    if (c[1] === 0xa4 && c[2] === 0x02) return (c[5] << 8) | c[6];
  }
  return undefined;
}

/** A terminal whose replies are chosen by a substring of the prompt; an unexpected prompt fails the test. */
export function scriptedIo(replies: Record<string, string>): KioskIo & { prompts: string[]; lines: string[]; output(): string } {
  const prompts: string[] = [];
  const lines: string[] = [];
  return {
    prompts,
    lines,
    output: () => [...prompts, ...lines].join('\n'),
    async prompt(text) {
      prompts.push(text);
      const key = Object.keys(replies).find((k) => text.includes(k));
      if (key === undefined) throw new Error(`the kiosk asked "${text}", which the test has no reply for`);
      return replies[key];
    },
    print: (line) => lines.push(line),
  };
}

/** A card from `profile` with the given tries left on the auth and/or sign PIN. */
export function cardWithTries(profile: Profile, tries: { auth?: number; sign?: number }): VirtualCard {
  const pins = { ...profile.pins };
  if (tries.auth !== undefined) pins.auth = { ...pins.auth, remaining: tries.auth };
  if (tries.sign !== undefined) pins.sign = { ...pins.sign, remaining: tries.sign };
  return testCard({ ...profile, pins });
}

const JPKI = '00A4040C0AD392F000260100000001';
const EF_HEX = { auth: '0018', sign: '001B' } as const;

/** The card's own count of tries left for a JPKI PIN (the query, straight on the card). */
export function triesLeft(card: VirtualCard, pin: 'auth' | 'sign'): number {
  tx(card, JPKI);
  tx(card, `00A4020C02${EF_HEX[pin]}`);
  const q = tx(card, '00200080');
  if (q.sw >> 4 !== 0x63c) throw new Error(`query answered ${q.swHex}`);
  return q.sw & 0x0f;
}

/** Spends tries with a wrong value sent straight to the card (the other way to bring a counter down). */
export function spendTries(card: VirtualCard, pin: 'auth' | 'sign', wrong: string, n: number): void {
  tx(card, JPKI);
  tx(card, `00A4020C02${EF_HEX[pin]}`);
  for (let i = 0; i < n; i++) tx(card, verifyCmd(wrong));
}

/** A 4-digit value that differs from `pin` (never a real PIN of the card). */
export const wrongDigits = (pin: string): string => (pin === '0000' ? '1111' : '0000');
