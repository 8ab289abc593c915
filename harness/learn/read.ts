/**
 * Reading a card without a PIN: what `myna-hil card learn` learns (docs/card-learn.md). Runs over any
 * {@link ApduChannel}, so the same code reads a physical card through PC/SC and a simulated one in
 * process.
 *
 * Only harmless commands are ever sent (isHarmless, checked before each one): SELECT, READ BINARY,
 * READ RECORD, GET DATA and the empty VERIFY, which asks a PIN's tries left and never spends one
 * (docs/card.md §4.2). No VERIFY with data, no CHANGE, no RESET RETRY COUNTER, no signature.
 *
 * Client-side knowledge of the card (AIDs, EFs, the command encoder) comes from harness/flows, written
 * from docs/card.md and not from the simulator.
 */
import { toHex } from '../../simulator/apdu/codec.ts';
import { swHex } from '../../simulator/apdu/sw.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { cmd, encode, split } from '../flows/apdu.ts';
import { AID, EF } from '../flows/card-ref.ts';

export type PinKind = 'sign' | 'auth' | 'juki' | 'kenmen' | 'common';

/** One command sent while learning and the card's answer. */
export interface ProbeAnswer {
  probe: string;
  /** Spaced hex. */
  command: string;
  /** `9000`, or `9000, 160 bytes`. */
  answer: string;
  sw: number;
  /** The behaviour option or profile field set from the answer, as `name = value`. */
  option?: string;
}

/** What the card showed. Files are their physical contents (filler included). */
export interface LearnedCard {
  atr: Uint8Array;
  tokenInfo: Uint8Array;
  /** EF 000A; absent when it needs the auth PIN. */
  authCert?: Uint8Array;
  authCa: Uint8Array;
  signCa: Uint8Array;
  hasSignCert: boolean;
  /** 共通カードAP EF 0001 record 1 (docs/card.md §3.5), when readable. */
  commonRecord?: Uint8Array;
  /** MF-level GET DATA objects read (docs/card.md §3.6), by tag. */
  getData: Map<number, Uint8Array>;
  /** Tries left per PIN (the empty VERIFY's 63 Cx). */
  remaining: Partial<Record<PinKind, number>>;
  /** Behaviour options learned (simulator/profile/schema.ts Behaviour), with their values. */
  behaviour: LearnedBehaviour;
  probes: ProbeAnswer[];
  /** What could not be learned or did not fit the profile, for the user and the profile's note. */
  notes: string[];
}

export interface LearnedBehaviour {
  getData?: boolean;
  unknownAidSw?: string;
  allowAidPrefix?: boolean;
  /** null: SELECT with P2 = 00 is answered like P2 = 0C (the option stays absent). */
  selectFciSw?: string | null;
  authCertNeedsPin?: boolean;
  missingSignCertSw?: string;
  sfiShortForms?: boolean;
  certificatePadding?: { bytes: number; byte: number };
}

/** The card refused something every My Number Card answers: it is not one (or not readable). */
export class NotAMynaCard extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAMynaCard';
  }
}

const INS = { verify: 0x20, select: 0xa4, readBinary: 0xb0, readRecord: 0xb2, getData: 0xca } as const;

/**
 * True for the commands learning may send: SELECT, READ BINARY, READ RECORD, GET DATA (class 00),
 * and VERIFY only as the 4-byte query `00 20 00 P2` (no Lc, no data, no Le). Anything else could
 * spend a try or change the card.
 */
export function isHarmless(command: Uint8Array): boolean {
  if (command.length < 4 || command[0] !== 0x00) return false;
  const ins = command[1];
  if (ins === INS.verify) return command.length === 4 && command[2] === 0x00;
  return ins === INS.select || ins === INS.readBinary || ins === INS.readRecord || ins === INS.getData;
}

/** An AID no My Number Card has: a payment application that OpenSC's other drivers probe with. */
export const UNKNOWN_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10);
/** A FID no application of the card has (docs/card.md §3: FIDs are 0001..001E). */
export const UNKNOWN_EF = 0x0099;
/** The JPKI AID without its last two bytes (SELECT by a prefix, JICSAP). */
export const AID_PREFIX = AID.jpki.subarray(0, 8);
/** The GET DATA tags read at MF level (docs/card.md §3.6): card number, municipality, expiry. */
export const GET_DATA_TAGS = [0x0045, 0x00f0, 0x00f2] as const;
/** PIN key EFs per application (docs/card.md §4.1). */
export const PIN_EFS: ReadonlyArray<{ pin: PinKind; aid: Uint8Array; fid: number }> = [
  { pin: 'auth', aid: AID.jpki, fid: EF.jpki.authPin },
  { pin: 'sign', aid: AID.jpki, fid: EF.jpki.signPin },
  { pin: 'kenmen', aid: AID.text, fid: EF.text.pin },
  { pin: 'juki', aid: AID.juki, fid: EF.juki.pin },
  { pin: 'common', aid: AID.common, fid: EF.common.pin },
];

const SW_OK = 0x9000;
const SW_WRONG_OFFSET = 0x6b00;
const SW_INS_NOT_SUPPORTED = 0x6d00;
const SW_SECURITY = 0x6982;
/** READ BINARY offsets have 15 bits; no EF of the card is larger. */
const MAX_EF = 0x8000;

const isCounter = (sw: number) => sw >> 4 === 0x63c;
const getDataCmd = (tag: number) => encode({ cla: 0x00, ins: INS.getData, p1: tag >> 8, p2: tag & 0xff, ne: 256 });
/** `00 20 00 P2`: the empty VERIFY (tries-left query), P2 80 = current EF, 80 + SFI = by short identifier. */
const verifyQuery = (p2: number) => encode({ cla: 0x00, ins: INS.verify, p1: 0x00, p2 });
/** READ RECORD record 1 of the current EF: `00 B2 01 04 00`. */
const readRecord1 = () => encode({ cla: 0x00, ins: INS.readRecord, p1: 0x01, p2: 0x04, ne: 256 });

/** Sends harmless commands only, and keeps each with its answer. */
class Prober {
  readonly probes: ProbeAnswer[] = [];
  constructor(private readonly channel: ApduChannel) {}

  async send(probe: string, command: Uint8Array): Promise<{ data: Uint8Array; sw: number; answer: ProbeAnswer }> {
    if (!isHarmless(command)) throw new Error(`card learn: refusing to send ${toHex(command, ' ')} (${probe}): not a harmless command`);
    const raw = await this.channel.transmit(command);
    if (raw.length < 2) throw new NotAMynaCard(`${probe}: the card answered ${raw.length} bytes, no status word (was it removed?)`);
    const { data, sw } = split(raw);
    const answer: ProbeAnswer = { probe, command: toHex(command, ' '), answer: `${swHex(sw)}${data.length ? `, ${data.length} bytes` : ''}`, sw };
    this.probes.push(answer);
    return { data, sw, answer };
  }

  /** A SELECT that every My Number Card answers 90 00. */
  async require(probe: string, command: Uint8Array): Promise<void> {
    const { sw } = await this.send(probe, command);
    if (sw !== SW_OK) throw new NotAMynaCard(`${probe} answered ${swHex(sw)}, a My Number Card answers 9000 (docs/card.md §3)`);
  }

  /**
   * The whole current EF as stored: READ BINARY with Le 256 from offset 0 until a chunk comes back
   * short or the offset is past the end (6B 00), so the filler after the object is read too.
   */
  async readPhysical(what: string): Promise<{ data?: Uint8Array; sw: number }> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { data, sw } = await this.send(`READ BINARY ${what} at ${size}`, cmd.readBinary(size, 256));
      if (sw === SW_WRONG_OFFSET && size > 0) break;
      if (sw !== SW_OK) return { sw };
      chunks.push(data);
      size += data.length;
      if (data.length < 256 || size >= MAX_EF) break;
    }
    return { data: Buffer.concat(chunks), sw: SW_OK };
  }
}

const hexSw = (sw: number) => swHex(sw);
/** The SW as a behaviour option value (schema.ts: an error 6xxx, never 61xx / 63xx), or undefined. */
const errorSw = (sw: number): string | undefined => (/^6[^13]/.test(hexSw(sw)) ? hexSw(sw) : undefined);

/** Reads everything learnable from the card behind `channel`. `atr` comes from the reader. */
export async function learnCard(channel: ApduChannel, atr: Uint8Array): Promise<LearnedCard> {
  const p = new Prober(channel);
  const b: LearnedBehaviour = {};
  const notes: string[] = [];

  // MF level first: the card is in its power-on state (docs/card.md §3.6), nothing selected yet.
  const getData = new Map<number, Uint8Array>();
  for (const tag of GET_DATA_TAGS) {
    const r = await p.send(`GET DATA ${tag.toString(16).toUpperCase().padStart(4, '0')} at MF level`, getDataCmd(tag));
    if (tag === GET_DATA_TAGS[0]) {
      b.getData = r.sw !== SW_INS_NOT_SUPPORTED;
      r.answer.option = `getData = ${b.getData}`;
      if (!b.getData) break;
    }
    if (r.sw === SW_OK) getData.set(tag, r.data);
  }

  const unknownAid = await p.send('SELECT an unknown AID', cmd.selectAp(UNKNOWN_AID));
  b.unknownAidSw = errorSw(unknownAid.sw);
  if (b.unknownAidSw) unknownAid.answer.option = `unknownAidSw = ${b.unknownAidSw}`;
  else notes.push(`SELECT of an unknown AID answered ${hexSw(unknownAid.sw)}, which no option can express`);

  const prefix = await p.send('SELECT by an AID prefix', cmd.selectAp(AID_PREFIX));
  b.allowAidPrefix = prefix.sw === SW_OK;
  prefix.answer.option = `allowAidPrefix = ${b.allowAidPrefix}`;

  const fci = await p.send('SELECT with P2 = 00 (FCI)', cmd.selectAp(AID.jpki, 0x00));
  if (fci.sw === SW_OK || errorSw(fci.sw)) {
    b.selectFciSw = fci.sw === SW_OK ? null : errorSw(fci.sw);
    fci.answer.option = `selectFciSw = ${b.selectFciSw ?? '(absent: answered like P2 = 0C)'}`;
  } else notes.push(`SELECT with P2 = 00 answered ${hexSw(fci.sw)}, which no option can express`);

  // JPKI AP (docs/card.md §3.1): the token info and the certificates readable without a PIN.
  await p.require('SELECT JPKI AP', cmd.selectAp(AID.jpki));
  const tokenInfo = await readFree(p, 'EF 0006 (token info)', EF.jpki.tokenInfo);

  await p.require('SELECT JPKI EF 000A (auth certificate)', cmd.selectEf(EF.jpki.authCert));
  const firstRead = p.probes.length;
  const auth = await p.readPhysical('EF 000A (auth certificate)');
  b.authCertNeedsPin = auth.sw === SW_SECURITY;
  p.probes[firstRead].option = `authCertNeedsPin = ${b.authCertNeedsPin}`;
  if (!auth.data && !b.authCertNeedsPin) throw new NotAMynaCard(`READ BINARY of JPKI EF 000A answered ${hexSw(auth.sw)}`);

  const authCa = await readFree(p, 'EF 000B (auth CA certificate)', 0x000b);
  const pastEnd = await p.send('READ BINARY past the end of EF 000B', cmd.readBinary(authCa.length, 1));
  if (pastEnd.sw !== SW_WRONG_OFFSET) notes.push(`READ BINARY past the end answered ${hexSw(pastEnd.sw)}; the simulator answers 6B00 (no option)`);
  const signCa = await readFree(p, 'EF 0002 (sign CA certificate)', 0x0002);

  const signCert = await p.send('SELECT JPKI EF 0001 (sign certificate)', cmd.selectEf(EF.jpki.signCert));
  const hasSignCert = signCert.sw === SW_OK;
  if (hasSignCert) signCert.answer.option = 'a sign certificate (behind the sign password: not read)';
  else {
    b.missingSignCertSw = errorSw(signCert.sw);
    if (!b.missingSignCertSw) throw new NotAMynaCard(`SELECT of JPKI EF 0001 answered ${hexSw(signCert.sw)}, neither 9000 nor an error`);
    signCert.answer.option = `missingSignCertSw = ${b.missingSignCertSw} (no sign certificate)`;
  }

  const unknownEf = await p.send('SELECT an unknown EF', cmd.selectEf(UNKNOWN_EF));
  if (unknownEf.sw !== 0x6a82) notes.push(`SELECT of an unknown EF answered ${hexSw(unknownEf.sw)}; the simulator answers 6A82 (no option)`);

  b.certificatePadding = certificatePadding([auth.data, authCa, signCa], notes);

  const remaining = await queryPins(p, b);

  // 共通カードAP record 1: card serial, municipality code, expiry (docs/card.md §3.5).
  let commonRecord: Uint8Array | undefined;
  await p.require('SELECT 共通カードAP', cmd.selectAp(AID.common));
  const ef = await p.send('SELECT 共通カードAP EF 0001', cmd.selectEf(0x0001));
  if (ef.sw === SW_OK) {
    const rec = await p.send('READ RECORD 1 of 共通カードAP EF 0001', readRecord1());
    if (rec.sw === SW_OK) commonRecord = rec.data;
  }
  if (!commonRecord) notes.push('共通カードAP EF 0001 record 1 could not be read: serial, municipality code and expiry come from GET DATA or the base');

  return {
    atr,
    tokenInfo,
    authCert: auth.data,
    authCa,
    signCa,
    hasSignCert,
    commonRecord,
    getData,
    remaining,
    behaviour: b,
    probes: p.probes,
    notes,
  };
}

/** SELECT EF + the whole EF, which must be readable without a PIN. */
async function readFree(p: Prober, what: string, fid: number): Promise<Uint8Array> {
  await p.require(`SELECT JPKI ${what}`, cmd.selectEf(fid));
  const r = await p.readPhysical(what);
  if (!r.data) throw new NotAMynaCard(`READ BINARY of JPKI ${what} answered ${hexSw(r.sw)}; it is readable without a PIN on a My Number Card`);
  return r.data;
}

/** `30 82 LL LL`: the DER's length; the bytes after it are filler (docs/card.md §12.7). */
function derLength(ef: Uint8Array): number | undefined {
  return ef.length >= 4 && ef[0] === 0x30 && ef[1] === 0x82 ? ((ef[2] << 8) | ef[3]) + 4 : undefined;
}

/**
 * The filler after the DER in the certificate EFs read (behaviour.certificatePadding). The simulator
 * has one option for all four EFs: when they differ, the first one's wins and a note says so.
 */
function certificatePadding(efs: Array<Uint8Array | undefined>, notes: string[]): { bytes: number; byte: number } {
  const found = efs.flatMap((ef) => {
    const der = ef && derLength(ef);
    if (!ef || der === undefined || der > ef.length) return [];
    const filler = ef.subarray(der);
    if (filler.some((x) => x !== filler[0])) notes.push(`a certificate EF holds mixed filler bytes after its DER; the simulator fills with one byte`);
    return [{ bytes: filler.length, byte: filler.length ? filler[0] : 0xff }];
  });
  if (found.length === 0) throw new NotAMynaCard('no certificate EF starts with 30 82 LL LL (docs/card.md §8)');
  if (found.some((f) => f.bytes !== found[0].bytes || f.byte !== found[0].byte)) {
    notes.push(`the certificate EFs have different filler (${found.map((f) => f.bytes).join(', ')} bytes); the profile uses the first's`);
  }
  return found[0];
}

/**
 * The empty VERIFY per PIN (docs/card.md §4.2: answers 63 Cx, spends nothing), and once by short
 * identifier `00 20 00 98` (auth PIN 0018 = 80 + SFI 18) for behaviour.sfiShortForms.
 */
async function queryPins(p: Prober, b: LearnedBehaviour): Promise<Partial<Record<PinKind, number>>> {
  const remaining: Partial<Record<PinKind, number>> = {};
  let selected: Uint8Array | undefined;
  for (const { pin, aid, fid } of PIN_EFS) {
    if (selected !== aid) {
      await p.require(`SELECT ${pin} PIN application`, cmd.selectAp(aid));
      selected = aid;
    }
    if (pin === 'auth') {
      const sfi = await p.send('VERIFY query by SFI (auth PIN, 80 + 18)', verifyQuery(0x80 | (fid & 0x1f)));
      b.sfiShortForms = isCounter(sfi.sw);
      sfi.answer.option = `sfiShortForms = ${b.sfiShortForms}`;
    }
    const sel = await p.send(`SELECT ${pin} PIN EF ${fid.toString(16).padStart(4, '0')}`, cmd.selectEf(fid));
    if (sel.sw !== SW_OK) continue;
    const q = await p.send(`VERIFY query (${pin} PIN tries left)`, verifyQuery(0x80));
    if (isCounter(q.sw)) {
      remaining[pin] = q.sw & 0x0f;
      q.answer.option = `pins.${pin}.remaining = ${remaining[pin]}`;
    }
  }
  return remaining;
}
