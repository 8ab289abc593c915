/**
 * A scenario's direct card actions (`card:` steps), sent through the client flows' own pieces
 * (harness/flows: AIDs, file IDs, the APDU encoder, the spec flows), never through the simulator's
 * codec, so the harness checks the card as a client would. An action stops at the first command not
 * answered 90 00; its status word is the one the step reports.
 */
import { fromHex } from '../../simulator/apdu/codec.ts';
import { InputError } from '../../simulator/errors.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { cmd, encode, split } from '../flows/apdu.ts';
import { AID, EF, sha256, sha256DigestInfo } from '../flows/card-ref.ts';
import { FlowSession, SPEC_FLOWS } from '../flows/spec-flows.ts';
import type { AppName, CardAction, PinKind, Where } from '../scenario/model.ts';
import type { Check } from './expect.ts';

/** Every application the scenarios name (docs/card.md §1); the flows carry the three they use. */
export const APP_AID: Record<AppName, Uint8Array> = {
  ...AID,
  juki: Uint8Array.of(0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01),
  common: Uint8Array.of(0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00),
};

/** Where each user PIN lives and how it is changed (docs/card.md §4.1). */
const PIN_REF: Record<PinKind, { app: AppName; ef: number; changeKey: boolean }> = {
  auth: { app: 'jpki', ef: EF.jpki.authPin, changeKey: false },
  sign: { app: 'jpki', ef: EF.jpki.signPin, changeKey: false },
  kenmen: { app: 'text', ef: EF.text.pin, changeKey: false },
  juki: { app: 'juki', ef: 0x001c, changeKey: true },
  common: { app: 'common', ef: 0x001c, changeKey: true },
};

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

export interface ActionResult {
  /** Status word of the last command answered; undefined when nothing answered (power lost, removed). */
  sw?: number;
  /** Why nothing answered. */
  noAnswer?: string;
  /** What the action did, for the step's message (never a PIN value). */
  note?: string;
  /** A spec flow's own checks. */
  checks: Check[];
}

class Stop extends Error {
  constructor(readonly result: ActionResult) {
    super('stop');
  }
}

/** Sends commands in order, stopping at the first that is not answered 90 00. */
class Sender {
  sw: number | undefined;
  /** A spec flow's checks, when the action ran one. */
  checks: Check[] = [];
  constructor(readonly channel: ApduChannel) {}

  async send(command: Uint8Array, okOnly = true): Promise<Uint8Array> {
    let raw: Uint8Array;
    try {
      raw = await this.channel.transmit(command);
    } catch (err) {
      // A refusal that knows its exit code (the physical-card guard: 4) is not a card that did not answer.
      if (typeof (err as { exitCode?: unknown } | undefined)?.exitCode === 'number') throw err;
      throw new Stop({ noAnswer: (err as Error).message, checks: [] });
    }
    if (raw.length < 2) throw new Stop({ noAnswer: `a response of ${raw.length} bytes has no status word`, checks: [] });
    const r = split(raw);
    this.sw = r.sw;
    if (okOnly && r.sw !== 0x9000) throw new Stop({ sw: r.sw, checks: [] });
    return r.data;
  }

  async selectPin(kind: PinKind): Promise<void> {
    const ref = PIN_REF[kind];
    await this.send(cmd.selectAp(APP_AID[ref.app]));
    await this.send(cmd.selectEf(ref.ef));
  }
}

/** The FID of `ef`: a file name of harness/flows/card-ref.ts EF (`authCert`) or 4 hex digits. */
export function efId(app: AppName, ef: string, where: Where): number {
  const named = (EF as Record<string, Record<string, number>>)[app]?.[ef];
  if (named !== undefined) return named;
  if (/^[0-9A-Fa-f]{4}$/.test(ef)) return Number.parseInt(ef, 16);
  const names = Object.keys((EF as Record<string, Record<string, number>>)[app] ?? {});
  throw new InputError(`${where}: ef "${ef}" is not a file of ${app}; give 4 hex digits (000A)${names.length ? ` or one of ${names.join(', ')}` : ''}`);
}

function hexData(data: string, where: Where): Uint8Array {
  try {
    return fromHex(data);
  } catch {
    throw new InputError(`${where}: data "${data}" is not hex; give the bytes to sign as hex (the runner hashes them with SHA-256)`);
  }
}

/** READ BINARY in 256-byte chunks until a short one, or 6B 00 exactly at the end of the file. */
async function readChunked(s: Sender): Promise<number> {
  let offset = 0;
  for (;;) {
    const data = await s.send(cmd.readBinary(offset, 256), false);
    if (s.sw === 0x6b00 && offset > 0) {
      s.sw = 0x9000;
      return offset;
    }
    if (s.sw !== 0x9000) return offset;
    offset += data.length;
    if (data.length < 256 || offset > 0x7fff) return offset;
  }
}

/** Runs one card action; inputs (PIN values, hex) are already expanded. */
export async function runCardAction(channel: ApduChannel, action: CardAction, pins: Record<PinKind, string>, where: Where): Promise<ActionResult> {
  // An empty value would be encoded without Lc: the tries-left query, not the VERIFY the scenario meant.
  for (const field of ['value', 'newValue'] as const) {
    if (field in action && (action as Record<string, unknown>)[field] === '')
      throw new InputError(`${where}: ${field} is empty; give the PIN value, e.g. "{pins.auth}" (use do: query for the tries left)`);
  }
  const s = new Sender(channel);
  try {
    const note = await perform(s, action, pins, where);
    return { sw: s.sw, note, checks: s.checks };
  } catch (err) {
    if (err instanceof Stop) return err.result;
    throw err;
  }
}

async function perform(s: Sender, action: CardAction, pins: Record<PinKind, string>, where: Where): Promise<string | undefined> {
  switch (action.do) {
    case 'apdu': {
      let command: Uint8Array;
      try {
        command = fromHex(action.hex);
      } catch {
        throw new InputError(`${where}: apdu "${action.hex}" is not hex; give the command as hex bytes, e.g. 00A4040C0AD392F000260100000001`);
      }
      await s.send(command, false);
      return undefined;
    }
    case 'select':
      await s.send(cmd.selectAp(APP_AID[action.app]), false);
      return undefined;
    case 'query':
      await s.selectPin(action.pin);
      await s.send(cmd.verify(), false);
      return undefined;
    case 'verify':
      await s.selectPin(action.pin);
      await s.send(cmd.verify(ascii(action.value)), false);
      return undefined;
    case 'change': {
      await s.selectPin(action.pin);
      await s.send(cmd.verify(ascii(action.value)));
      const changeKey = PIN_REF[action.pin].changeKey;
      await s.send(
        encode({ cla: changeKey ? 0x80 : 0x00, ins: changeKey ? 0x32 : 0x24, p1: changeKey ? 0x00 : 0x01, p2: 0x80, data: ascii(action.newValue) }),
        false,
      );
      return undefined;
    }
    case 'read': {
      const fid = efId(action.app, action.ef, where);
      await s.send(cmd.selectAp(APP_AID[action.app]));
      await s.send(cmd.selectEf(fid));
      return `read ${await readChunked(s)} bytes`;
    }
    case 'sign': {
      const data = hexData(action.data, where);
      const pin = action.key === 'auth' ? 'auth' : 'sign';
      await s.selectPin(pin);
      await s.send(cmd.verify(ascii(action.value)));
      await s.send(cmd.selectEf(action.key === 'auth' ? EF.jpki.authKey : EF.jpki.signKey));
      const sig = await s.send(cmd.signDigestInfo(sha256DigestInfo(sha256(data))), false);
      return s.sw === 0x9000 ? `signature of ${sig.length} bytes` : undefined;
    }
    case 'flow':
      s.checks = await runFlow(s, action.flow, pins, where);
      return undefined;
  }
}

/** A spec flow by id (harness/flows/spec-flows.ts); its checks become the step's expectations. */
async function runFlow(s: Sender, id: string, pins: Record<PinKind, string>, where: Where): Promise<Check[]> {
  const flow = SPEC_FLOWS.find((f) => f.id === id);
  if (!flow) throw new InputError(`${where}: flow "${id}" is not a spec flow; use one of ${SPEC_FLOWS.map((f) => f.id).join(', ')}`);
  const session = new FlowSession(s.channel);
  let error: string | undefined;
  try {
    await flow.run(session, { authPin: pins.auth, signPin: pins.sign, kenmenPin: pins.kenmen });
  } catch (err) {
    error = (err as Error).message;
  }
  const checks: Check[] = session.checks.map((c) => ({
    what: `flow ${id}: ${c.what}`,
    passed: c.ok,
    expected: 'holds',
    actual: c.detail ?? (c.ok ? 'holds' : 'does not hold'),
  }));
  if (error !== undefined && checks.every((c) => c.passed))
    checks.push({ what: `flow ${id} runs to its end`, passed: false, expected: 'no error', actual: error });
  const last = session.exchanges.at(-1);
  if (last) s.sw = last.sw;
  return checks;
}
