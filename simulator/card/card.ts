/**
 * The virtual My Number Card: bytes in, bytes out. No sockets, files or PC/SC in here.
 *
 * Security state model: spec section 9. Power-up, warm reset and DF selection clear the selected EF
 * and every verified flag; retry counters and PIN values live in the persistent state
 * (simulator/state) and survive all of that.
 */
import { randomBytes, sign } from 'node:crypto';
import { type CommandApdu, encodeResponse, parseCommand } from '../apdu/codec.ts';
import { CardError, SW } from '../apdu/sw.ts';
import { type Pin, type PinId, PowerLoss, StorageFailure } from '../pin/pin.ts';
import type { Behaviour } from '../profile/schema.ts';
import { computeSignature } from './crypto.ts';
import type { Access, Applet, Ef, KeyEf, PinEf } from '../applets/model.ts';
import type { SmartCard } from './types.ts';

interface Reply {
  data?: Uint8Array;
  sw: number;
}

const OK: Reply = { sw: SW.OK };
const fail = (sw: number, why?: string): never => {
  throw new CardError(sw, why);
};

/** The card lost power mid-command: the one exception transmit() lets escape (see pin.ts). */
export { PowerLoss };

/**
 * What transmit() does with an internal fault (an exception that is not a status word: a bug):
 * `answer` it 6F 00 and report it through onFault (production: a bug must never take the reader
 * down), or `throw` it (tests: a bug must fail the test, not hide behind a status word).
 */
export type FaultMode = 'answer' | 'throw';

export interface CardParts {
  atr: Uint8Array;
  applets: Applet[];
  mf: Applet;
  pins: Record<PinId, Pin>;
  behaviour: Behaviour;
  /** MF-level GET DATA objects by tag. */
  getData: Map<number, Uint8Array>;
  /** Default `answer`. */
  faults?: FaultMode;
}

/** One instruction of the command set (VirtualCard.COMMANDS). */
interface Command {
  name: string;
  /** Class byte with the channel and secure-messaging bits masked: 00 interindustry, 80 proprietary. */
  cla: 0x00 | 0x80;
  /** Status word for this INS sent in the other class. */
  otherClass: number;
  run: (card: VirtualCard, c: CommandApdu) => Reply;
}

/**
 * Refuses what the card does not offer in the class byte, whatever the INS (docs/card.md §9.9):
 * logical channels, command chaining, secure messaging and classes other than 00 / 80.
 */
function checkClass(c: CommandApdu): void {
  const cla = c.cla;
  // CLA 40-7F: the further interindustry class, logical channels 4-19 (ISO 7816-4 5.4.1)
  if ((cla & 0xc0) === 0x40) fail(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
  const base = cla & 0xf0;
  if (base !== 0x00 && base !== 0x80) {
    fail(base === 0x10 || base === 0x90 ? SW.COMMAND_CHAINING_NOT_SUPPORTED : SW.CLA_NOT_SUPPORTED);
  }
  if ((cla & 0x03) !== 0) fail(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
  if ((cla & 0x0c) !== 0) {
    // Secure messaging is not offered: SELECT → 6882, READ BINARY / VERIFY → 69FC [1]
    fail(c.ins === 0xb0 || c.ins === 0x20 ? SW.SM_REFUSED : SW.SECURE_MESSAGING_NOT_SUPPORTED);
  }
}

export class VirtualCard implements SmartCard {
  private powered = false;
  private df: Applet;
  private ef: Ef | null = null;
  private readonly verified = new Set<Pin>();
  /** The auth PIN was verified since the last power-up or reset (for the sign-password re-initialisation). */
  private authVerifiedThisSession = false;
  private readonly atrBytes: Uint8Array;
  /**
   * Told about every fault the card answered instead of throwing, with the status word it answered:
   * 65 81 for a state file that could not be written (StorageFailure), 6F 00 for an internal fault
   * (a bug) when faults = `answer`. This is how a host (serve, a test) learns of one.
   */
  onFault: (err: unknown, sw: number) => void = () => {};

  constructor(private readonly parts: CardParts) {
    this.atrBytes = parts.atr;
    this.df = parts.mf;
  }

  // ---- SmartCard ---------------------------------------------------------------------------

  atr(): Uint8Array {
    return this.atrBytes;
  }

  powerUp(): void {
    this.clearVolatile();
    this.powered = true;
  }

  powerDown(): void {
    this.clearVolatile();
    this.powered = false;
  }

  reset(): void {
    this.clearVolatile();
    this.powered = true;
  }

  transmit(command: Uint8Array): Uint8Array {
    // A command to an unpowered card powers it (as a contactless card entering the field) [I].
    if (!this.powered) this.powerUp();
    try {
      const r = this.execute(parseCommand(command));
      return encodeResponse(r.data, r.sw);
    } catch (err) {
      if (err instanceof CardError) return encodeResponse(undefined, err.sw);
      if (err instanceof PowerLoss) {
        this.powerDown();
        throw err;
      }
      // Non-volatile memory could not be written: nothing was changed (see Pin), as a real card reports it.
      if (err instanceof StorageFailure) return this.answerFault(err, SW.MEMORY_FAILURE);
      if (this.parts.faults === 'throw') throw err;
      // A bug in a handler must never take the card (and with vpcd, the reader) down.
      return this.answerFault(err, SW.NO_PRECISE_DIAGNOSIS);
    }
  }

  private answerFault(err: unknown, sw: number): Uint8Array {
    this.onFault(err, sw);
    return encodeResponse(undefined, sw);
  }

  // ---- introspection for the harness, the issuer and tests ------------------------------------

  get isPowered(): boolean {
    return this.powered;
  }

  /** Name of the selected application, or `mf`. */
  get selectedApplication(): string {
    return this.df.name;
  }

  pin(id: PinId): Pin {
    return this.parts.pins[id];
  }

  isVerified(id: PinId): boolean {
    return this.verified.has(this.parts.pins[id]);
  }

  get authPinVerifiedThisSession(): boolean {
    return this.authVerifiedThisSession;
  }

  /** Forgets a verification (the issuer replaced the value it was made with). */
  clearVerified(id: PinId): void {
    this.verified.delete(this.parts.pins[id]);
    if (id === 'auth') this.authVerifiedThisSession = false;
  }

  get behaviour(): Behaviour {
    return this.parts.behaviour;
  }

  // ---- dispatch ------------------------------------------------------------------------------

  private clearVolatile(): void {
    this.df = this.parts.mf;
    this.ef = null;
    this.verified.clear();
    this.authVerifiedThisSession = false;
  }

  private execute(c: CommandApdu): Reply {
    checkClass(c);
    const command = VirtualCard.COMMANDS.get(c.ins) ?? fail(SW.INS_NOT_SUPPORTED);
    if ((c.cla & 0xf0) !== command.cla) fail(command.otherClass);
    return command.run(this, c);
  }

  /**
   * The command set, one entry per INS (docs/card.md §5): its name, the class it runs in (00
   * interindustry or 80 proprietary, once checkClass has passed the CLA), what the card answers when
   * it comes in the other class, and its handler. An INS not listed answers 6D 00 in either class.
   */
  private static readonly COMMANDS: ReadonlyMap<number, Command> = new Map<number, Command>([
    [0xa4, { name: 'SELECT', cla: 0x00, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.select(c) }],
    [0xb0, { name: 'READ BINARY', cla: 0x00, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.readBinary(c) }],
    [0xb2, { name: 'READ RECORD', cla: 0x00, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.readRecord(c) }],
    [0x20, { name: 'VERIFY', cla: 0x00, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.verify(c) }],
    [0x24, { name: 'CHANGE REFERENCE DATA', cla: 0x00, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.change(c, 'CHANGE_REFERENCE_DATA') }],
    [0x84, { name: 'GET CHALLENGE', cla: 0x00, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.getChallenge(c) }],
    [0x88, { name: 'INTERNAL AUTHENTICATE', cla: 0x00, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.internalAuthenticate(c) }],
    [0xca, { name: 'GET DATA', cla: 0x00, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.getData(c) }],
    // The card never answers 61 xx, so there is never a response to get.
    [
      0xc0,
      {
        name: 'GET RESPONSE',
        cla: 0x00,
        otherClass: SW.CLA_NOT_SUPPORTED,
        run: () => fail(SW.CONDITIONS_NOT_SATISFIED, 'no response pending (the card never answers 61xx)'),
      },
    ],
    [0x2a, { name: 'COMPUTE DIGITAL SIGNATURE', cla: 0x80, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.computeDigitalSignature(c) }],
    [0x32, { name: 'CHANGE KEY', cla: 0x80, otherClass: SW.CLA_NOT_SUPPORTED, run: (card, c) => card.change(c, 'CHANGE_KEY') }],
    // Terminal card-verifiable certificate: not supported for clients [1].
    [0xa2, { name: 'TERMINAL CVC', cla: 0x80, otherClass: SW.CLA_NOT_SUPPORTED, run: () => fail(SW.CONDITIONS_NOT_SATISFIED) }],
    // Secure messaging set-up: the answer depends on the application (66 F1 in some) [1].
    [
      0xae,
      { name: 'SET SESSION KEY', cla: 0x80, otherClass: SW.CLA_NOT_SUPPORTED, run: (card) => fail(card.df.setSessionKeySw ?? SW.CONDITIONS_NOT_SATISFIED) },
    ],
    // The iPhone token's "last command" marker: a physical card answers 67 00 [1].
    [0xfc, { name: 'LAST COMMAND MARKER', cla: 0x80, otherClass: SW.CLA_NOT_SUPPORTED, run: () => fail(SW.WRONG_LENGTH) }],
    // Issuer only [U].
    [0x54, { name: 'UNLOCK KEY', cla: 0x80, otherClass: SW.CLA_NOT_SUPPORTED, run: () => fail(SW.SECURITY_STATUS_NOT_SATISFIED) }],
  ]);

  // ---- SELECT --------------------------------------------------------------------------------

  private select(c: CommandApdu): Reply {
    if (c.p2 !== 0x0c && c.p2 !== 0x00) fail(SW.INCORRECT_P1P2);
    const fciSw = this.parts.behaviour.selectFciSw;
    if (c.p2 === 0x00 && fciSw) fail(parseInt(fciSw, 16));
    switch (c.p1) {
      case 0x04:
        return this.selectDf(c.data);
      case 0x00:
        if (c.data.length === 0) {
          // The card has no usable MF: 6A86 in MF state, 90 00 without changing the DF once an
          // application is selected [1].
          return this.df.mfState ? fail(SW.INCORRECT_P1P2) : OK;
        }
        return this.selectEf(c.data);
      case 0x02:
        return this.selectEf(c.data);
      default:
        return fail(SW.INCORRECT_P1P2);
    }
  }

  private selectDf(name: Uint8Array): Reply {
    if (name.length < 1 || name.length > 16) fail(SW.WRONG_LENGTH);
    const prefix = this.parts.behaviour.allowAidPrefix;
    const applet = this.parts.applets.find((a) => (prefix ? startsWith(a.aid, name) : equalBytes(a.aid, name)));
    if (!applet) return fail(parseInt(this.parts.behaviour.unknownAidSw, 16), 'unknown AID');
    // Two options: OpenSC logs out by re-selecting the same application, some clients re-select it
    // between VERIFY and the signature (schema.ts Behaviour).
    const b = this.parts.behaviour;
    if (applet === this.df ? b.reselectClearsVerified : b.selectDfClearsVerified) this.verified.clear();
    this.df = applet;
    this.ef = null;
    return OK;
  }

  private selectEf(fid: Uint8Array): Reply {
    if (fid.length !== 2) fail(SW.WRONG_LENGTH);
    const ef = this.df.efs.get((fid[0] << 8) | fid[1]);
    if (!ef) return fail(SW.FILE_NOT_FOUND);
    if (ef.kind === 'absent') return fail(ef.selectSw);
    this.ef = ef;
    return OK;
  }

  /**
   * Resolves a short EF identifier; makes the EF current. `optional` marks the forms no client needs
   * (VERIFY / CHANGE with P2 = 80 + SFI, READ BINARY by SFI [1]), which behaviour.sfiShortForms can turn
   * off; the others (80 2A and INTERNAL AUTHENTICATE by SFI, READ RECORD by SFI) are always on.
   */
  private efBySfi(sfi: number, optional: boolean): Ef {
    if (optional && !this.parts.behaviour.sfiShortForms) fail(SW.INCORRECT_P1P2);
    const ef = this.df.efs.get(sfi);
    if (!ef) return fail(SW.FILE_NOT_FOUND);
    if (ef.kind === 'absent') return fail(ef.selectSw);
    this.ef = ef;
    return ef;
  }

  private currentEf(): Ef {
    return this.ef ?? fail(SW.NO_CURRENT_EF);
  }

  private allowed(access: Access): boolean {
    if (access === 'free') return true;
    if (access === 'never') return false;
    for (const p of access.anyOf) if (this.verified.has(p)) return true;
    return false;
  }

  // ---- READ BINARY / READ RECORD ---------------------------------------------------------------

  private readBinary(c: CommandApdu): Reply {
    if (c.data.length > 0 || c.ne === 0) fail(SW.WRONG_LENGTH);
    let ef: Ef;
    let offset: number;
    if (c.p1 & 0x80) {
      if (c.p1 & 0x60) fail(SW.INCORRECT_P1P2);
      ef = this.efBySfi(c.p1 & 0x1f, true);
      offset = c.p2;
    } else {
      ef = this.currentEf();
      offset = (c.p1 << 8) | c.p2;
    }
    if (ef.kind !== 'binary') return fail(ef.kind === 'opaque' ? ef.sw : SW.COMMAND_INCOMPATIBLE_WITH_FILE);
    if (!this.allowed(ef.read)) fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (offset >= ef.data.length) fail(SW.WRONG_OFFSET);
    return { data: ef.data.subarray(offset, Math.min(ef.data.length, offset + c.ne)), sw: SW.OK };
  }

  private readRecord(c: CommandApdu): Reply {
    if (c.data.length > 0 || c.ne === 0) fail(SW.WRONG_LENGTH);
    const mode = c.p2 & 0x07;
    if (mode === 0x05) fail(SW.FUNCTION_NOT_SUPPORTED);
    if (mode !== 0x04) fail(SW.INCORRECT_P1P2);
    const sfi = c.p2 >> 3;
    const ef = sfi === 0 ? this.currentEf() : this.efBySfi(sfi, false);
    if (ef.kind !== 'record') return fail(ef.kind === 'opaque' ? ef.sw : SW.COMMAND_INCOMPATIBLE_WITH_FILE);
    if (!this.allowed(ef.read)) fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    const rec = c.p1 >= 1 ? ef.records[c.p1 - 1] : undefined;
    if (!rec) return fail(SW.RECORD_NOT_FOUND);
    return { data: rec.subarray(0, Math.min(rec.length, c.ne)), sw: SW.OK };
  }

  // ---- VERIFY / CHANGE ---------------------------------------------------------------------------

  /** The key reference named by P2: 80 = current EF, 80 + SFI = that EF (short form). */
  private keyRef(p2: number, optionalSfi: boolean): Ef {
    if (p2 === 0x80) return this.currentEf();
    if (p2 > 0x80 && p2 <= 0x9e) return this.efBySfi(p2 & 0x1f, optionalSfi);
    return fail(SW.INCORRECT_P1P2);
  }

  private pinEf(p2: number): PinEf {
    const ef = this.keyRef(p2, true);
    if (ef.kind !== 'pin') return fail(ef.kind === 'opaque' ? ef.sw : SW.COMMAND_INCOMPATIBLE_WITH_FILE);
    return ef;
  }

  private verify(c: CommandApdu): Reply {
    if (c.p1 !== 0x00) fail(SW.INCORRECT_P1P2);
    const pin = this.pinEf(c.p2).pin;
    if (c.data.length === 0) return { sw: SW.COUNTER | pin.remaining }; // query: never spends a try
    // a blocked key answers 69 84 to every VERIFY with data, without looking at it [T]
    if (pin.blocked) return fail(SW.REFERENCE_DATA_BLOCKED);
    const b = this.parts.behaviour;
    if (c.data.length > 16) fail(parseInt(b.verifyTooLongSw, 16));
    if (b.verifyWrongLengthSw && (c.data.length < pin.rule.lengths[0] || c.data.length > pin.rule.lengths[1])) {
      fail(parseInt(b.verifyWrongLengthSw, 16));
    }
    const outcome = pin.verify(c.data);
    if (outcome === 'blocked') return fail(SW.REFERENCE_DATA_BLOCKED);
    if (outcome === 'wrong') {
      this.verified.delete(pin);
      if (pin.id === 'auth') this.authVerifiedThisSession = false;
      return { sw: SW.COUNTER | pin.remaining };
    }
    this.verified.add(pin);
    if (pin.id === 'auth') this.authVerifiedThisSession = true;
    return OK;
  }

  private change(c: CommandApdu, kind: 'CHANGE_REFERENCE_DATA' | 'CHANGE_KEY'): Reply {
    if (c.p1 !== (kind === 'CHANGE_REFERENCE_DATA' ? 0x01 : 0x00)) fail(SW.INCORRECT_P1P2);
    const pin = this.pinEf(c.p2).pin;
    if (pin.rule.change !== kind || !pin.rule.validNew) return fail(SW.CONDITIONS_NOT_SATISFIED, 'this key cannot be changed with this command');
    if (c.data.length === 0) fail(SW.WRONG_LENGTH);
    if (pin.blocked) fail(SW.REFERENCE_DATA_BLOCKED);
    if (!this.verified.has(pin)) fail(parseInt(this.parts.behaviour.changeWithoutVerifySw, 16));
    const value = Buffer.from(c.data).toString('latin1');
    if (!pin.rule.validNew(value)) fail(parseInt(this.parts.behaviour.newPinFormatSw, 16));
    pin.setValue(value);
    return OK;
  }

  // ---- signatures ------------------------------------------------------------------------------

  private keyFor(p2: number): KeyEf {
    if (p2 === 0x00) return this.df.ownKey ?? fail(SW.INCORRECT_P1P2);
    const ef = this.keyRef(p2, false);
    if (ef.kind !== 'key') return fail(ef.kind === 'opaque' ? ef.sw : SW.COMMAND_INCOMPATIBLE_WITH_FILE);
    return ef;
  }

  private computeDigitalSignature(c: CommandApdu): Reply {
    if (c.p1 > 0x05) fail(SW.INCORRECT_P1P2);
    const key = this.keyFor(c.p2);
    if (key.use !== 'sign') fail(SW.CONDITIONS_NOT_SATISFIED);
    if (!this.allowed(key.access)) fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (c.data.length === 0) fail(SW.WRONG_LENGTH);
    const sig = computeSignature(key.key, c.p1, c.data, this.parts.behaviour.pssSaltLength);
    if (key.clearsAfterSign) this.verified.delete(key.clearsAfterSign);
    return { data: sig, sw: SW.OK };
  }

  private internalAuthenticate(c: CommandApdu): Reply {
    if (c.p1 !== 0x00) fail(SW.INCORRECT_P1P2);
    const key = this.keyFor(c.p2 === 0x00 ? 0x80 : c.p2);
    if (key.use !== 'internal-auth') fail(key.internalAuthSw ?? SW.CONDITIONS_NOT_SATISFIED);
    if (!this.allowed(key.access)) fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (c.data.length < 1 || c.data.length > 255) fail(SW.WRONG_LENGTH);
    return { data: sign('sha256', c.data, key.key), sw: SW.OK };
  }

  // ---- GET CHALLENGE / GET DATA ------------------------------------------------------------------

  private getChallenge(c: CommandApdu): Reply {
    if (c.p1 !== 0 || c.p2 !== 0) fail(SW.INCORRECT_P1P2);
    if (c.extended) fail(SW.CONDITIONS_NOT_SATISFIED);
    if (c.data.length > 0 || c.ne === 0) fail(SW.WRONG_LENGTH);
    return { data: randomBytes(c.ne), sw: SW.OK };
  }

  private getData(c: CommandApdu): Reply {
    if (!this.parts.behaviour.getData) fail(SW.INS_NOT_SUPPORTED);
    if (c.data.length > 0) fail(SW.WRONG_LENGTH);
    const tag = (c.p1 << 8) | c.p2;
    // Only in the MF / ISD state, except the ATR object 5F51 [1].
    if (!this.df.mfState && tag !== 0x5f51) fail(SW.REFERENCED_DATA_NOT_FOUND);
    const obj = this.parts.getData.get(tag) ?? fail(SW.REFERENCED_DATA_NOT_FOUND);
    const max = c.ne === 0 ? 256 : c.ne;
    if (obj.length > max) fail(SW.WRONG_LENGTH, 'object longer than Le: retry with extended Le');
    return { data: obj, sw: SW.OK };
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && startsWith(a, b);
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}
