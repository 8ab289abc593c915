/**
 * Replays a recorded session (./read.ts) on the simulator built from a profile and compares each of
 * the card's own answers with the simulator's (docs/sessions.md, "Replay"):
 *
 * - power events are applied in order; commands are sent in order;
 * - status words must match exactly; data must match exactly, except: a signature (`80 2A`,
 *   docs/card.md §6) is verified (the recorded one with the recorded certificate of that key, the
 *   simulator's with the profile's key, which a learned profile does not share with its certificate);
 *   GET CHALLENGE is random (length only); and when the session is of
 *   another card (header authCertSha256 ≠ the profile's) EF data is compared by length and the
 *   certificates read by structure (X.509: signature algorithm, key type and size, extension OIDs and
 *   criticality);
 * - masked VERIFY data is put back from the profile (a wrong value of the right format when the
 *   recorded answer was a failure), the PIN found from the selection (harness/flows/selection.ts);
 *   masked CHANGE REFERENCE DATA / CHANGE KEY are rebuilt in the shape of docs/card.md §4.3 with the
 *   profile's value as the new value (the card keeps the value the rest of the replay uses); RESET
 *   RETRY COUNTER has no public shape (§4.3) and is reported as not replayable;
 * - answers the card did not give are not compared: `from: 'guard' | 'fault'` (not sent), and
 *   `no-response` (sent only when the fault says the command reached the card, so that its state follows).
 *
 * The simulator's card is the replay's own: built in memory from a copy of the profile, nothing written.
 */
import { constants, createPublicKey, type KeyObject, publicDecrypt, verify, X509Certificate } from 'node:crypto';
import { fromHex, toHex } from '../../simulator/apdu/codec.ts';
import { swHex, swName } from '../../simulator/apdu/sw.ts';
import { commandName, redactCommand } from '../../simulator/apdu/trace.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { isValidSignPassword } from '../../simulator/pin/rules.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { MemoryStore } from '../../simulator/state/store.ts';
import { sha256, sha256DigestInfo } from '../flows/card-ref.ts';
import { SelectionTracker } from '../flows/selection.ts';
import type { PinKind } from '../scenario/model.ts';
import { authCertSha256 } from '../targets/card-host.ts';
import { commandData } from '../targets/guard.ts';
import type { SessionEvent } from './format.ts';
import type { Session } from './read.ts';

/** The docs/card.md section that covers each INS (CLA class bits ignored). */
export const SECTION_OF_INS: Readonly<Record<string, string>> = {
  A4: 'docs/card.md §5 (SELECT), §9.2-§9.3',
  B0: 'docs/card.md §8 (reading files)',
  B2: 'docs/card.md §5 (READ RECORD)',
  '20': 'docs/card.md §4.2 (VERIFY)',
  '24': 'docs/card.md §4.3 (PIN change)',
  '2C': 'docs/card.md §4.3 (PIN reset)',
  '32': 'docs/card.md §4.3 (CHANGE KEY)',
  '2A': 'docs/card.md §6 (signing)',
  '88': 'docs/card.md §5 (INTERNAL AUTHENTICATE)',
  '84': 'docs/card.md §5 (GET CHALLENGE)',
  CA: 'docs/card.md §3.6 (GET DATA)',
  C0: 'docs/card.md §5 (GET RESPONSE)',
};

export function sectionFor(command: Uint8Array): string {
  const ins = command.length >= 2 ? toHex(command.subarray(1, 2)) : '';
  return SECTION_OF_INS[ins] ?? 'docs/card.md §9.9 (unknown commands)';
}

/** An answer as reports show it: length, status word and its name; never the data (it may be personal). */
export interface AnswerView {
  bytes: number;
  sw: string;
  swName: string;
}

export interface Divergence {
  seq: number;
  /** Line of the command in the session file. */
  line: number;
  command: string;
  name: string;
  section: string;
  recorded: AnswerView;
  replayed: AnswerView;
  why: string;
}

export interface ReplayResult {
  session: string;
  profile: string;
  sameCard: boolean;
  /** Commands sent to the simulator and compared. */
  compared: number;
  /** Commands not sent (answers the card did not give) or sent without comparing. */
  skipped: Array<{ seq: number; line: number; command: string; why: string }>;
  notReplayable: Array<{ seq: number; line: number; command: string; why: string }>;
  /** Signatures that could not be verified (no certificate of that key in the session). */
  notes: string[];
  divergences: Divergence[];
}

type Command = Extract<SessionEvent, { type: 'command' }> & { line: number };

const view = (raw: Uint8Array): AnswerView => {
  const sw = raw.length >= 2 ? (raw[raw.length - 2] << 8) | raw[raw.length - 1] : -1;
  return { bytes: Math.max(0, raw.length - 2), sw: sw < 0 ? '' : swHex(sw), swName: sw < 0 ? 'no status word' : swName(sw) };
};
const swOf = (raw: Uint8Array): number => (raw.length >= 2 ? (raw[raw.length - 2] << 8) | raw[raw.length - 1] : -1);
const dataOf = (raw: Uint8Array): Uint8Array => raw.subarray(0, Math.max(0, raw.length - 2));
const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const efKey = (sel: SelectionTracker): string | undefined => (sel.df && sel.df !== 'other' && sel.ef !== undefined ? `${sel.df}/${sel.ef}` : undefined);

/** A value of the same format as `value` that is not it (a wrong entry that still passes format checks). */
export function wrongValue(kind: PinKind, value: string): string {
  if (kind !== 'sign') return String((Number(value) + 1) % 10000).padStart(4, '0');
  for (const candidate of ['WRONG1', 'WRONG2', 'ABC123']) if (candidate !== value && isValidSignPassword(candidate)) return candidate;
  return 'ABC124';
}

/** The file contents a session's READ BINARYs revealed, per DF/EF, as far as read. */
class FileReads {
  private readonly files = new Map<string, Uint8Array>();
  add(sel: SelectionTracker, command: Uint8Array, response: Uint8Array): void {
    if (command[1] !== 0xb0 || command.length < 4 || swOf(response) !== 0x9000) return;
    const key = efKey(sel);
    if (!key) return;
    const offset = command[2] & 0x80 ? command[3] : ((command[2] << 8) | command[3]) & 0x7fff;
    const data = dataOf(response);
    const old = this.files.get(key) ?? new Uint8Array(0);
    const next = new Uint8Array(Math.max(old.length, offset + data.length));
    next.set(old);
    next.set(data, offset);
    this.files.set(key, next);
  }
  /** The DER certificate at the start of the file, when the reads covered all of it. */
  certificate(key: string): Uint8Array | undefined {
    const f = this.files.get(key);
    if (!f || f.length < 4 || f[0] !== 0x30 || f[1] !== 0x82) return undefined;
    const len = 4 + ((f[2] << 8) | f[3]);
    return f.length >= len ? f.subarray(0, len) : undefined;
  }
  keys(): string[] {
    return [...this.files.keys()];
  }
}

/** The certificate EF of each JPKI key (docs/card.md §3.1): auth key 0017 → 000A, sign key 001A → 0001. */
const CERT_OF_KEY: Record<number, { ef: number; profile: 'auth' | 'sign' }> = { 0x17: { ef: 0x0a, profile: 'auth' }, 0x1a: { ef: 0x01, profile: 'sign' } };

/** The JPKI certificate EFs (docs/card.md §3.1): sign 0001, sign CA 0002, auth 000A, auth CA 000B. */
const CERT_EFS = new Set([0x01, 0x02, 0x0a, 0x0b]);

/** What `80 2A` with this P1 signs for `data` (docs/card.md §6), as the PKCS#1 v1.5 payload; undefined for PSS. */
function signedPayload(p1: number, data: Uint8Array): Uint8Array | undefined {
  if (p1 === 0x00) return data;
  if (p1 === 0x01) return sha256(data);
  if (p1 === 0x02) return sha256DigestInfo(data);
  if (p1 === 0x03) return sha256DigestInfo(sha256(data));
  return undefined;
}

function verifies(key: KeyObject, p1: number, data: Uint8Array, signature: Uint8Array): boolean {
  const payload = signedPayload(p1, data);
  try {
    if (payload) return Buffer.compare(publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature), payload) === 0;
    const hash = p1 === 0x04 ? data : sha256(data);
    // PSS over a given hash: verify the hash as if it were the message's digest (node verifies digests with null algorithm only for raw keys)
    return verify(
      p1 === 0x04 ? null : 'sha256',
      p1 === 0x04 ? hash : data,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
      signature,
    );
  } catch {
    return false;
  }
}

/** What two certificates share when they are of different cards: their structure. Empty when alike. */
export function certificateStructureDifference(a: Uint8Array, b: Uint8Array): string | undefined {
  let x: X509Certificate;
  let y: X509Certificate;
  try {
    x = new X509Certificate(a);
  } catch {
    return 'the recorded certificate does not parse as X.509';
  }
  try {
    y = new X509Certificate(b);
  } catch {
    return "the simulator's certificate does not parse as X.509";
  }
  const shape = (c: X509Certificate) => {
    const k = c.publicKey.asymmetricKeyDetails;
    return {
      key: `${c.publicKey.asymmetricKeyType} ${k?.modulusLength ?? ''}`,
      sigAlg: sigAlgOf(c.raw),
      extensions: extensionsOf(c.raw).join(' '),
    };
  };
  const sa = shape(x);
  const sb = shape(y);
  for (const f of ['key', 'sigAlg', 'extensions'] as const) if (sa[f] !== sb[f]) return `${f}: recorded ${sa[f]}, simulator ${sb[f]}`;
  return undefined;
}

/** A minimal DER walk: the signatureAlgorithm OID of a certificate (second element of the outer SEQUENCE). */
function tlv(buf: Uint8Array, at: number): { tag: number; start: number; end: number } {
  const tag = buf[at];
  let len = buf[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | buf[start + i];
    start += n;
  }
  return { tag, start, end: start + len };
}

function children(buf: Uint8Array, start: number, end: number): Array<{ tag: number; start: number; end: number; at: number }> {
  const out = [];
  for (let at = start; at < end; ) {
    const t = tlv(buf, at);
    out.push({ ...t, at });
    at = t.end;
  }
  return out;
}

function sigAlgOf(der: Uint8Array): string {
  const cert = tlv(der, 0);
  const [, alg] = children(der, cert.start, cert.end);
  return alg ? toHex(der.subarray(alg.start, alg.end)) : '';
}

/** `OID[!]` for each extension (`!` critical), in order. */
function extensionsOf(der: Uint8Array): string[] {
  const cert = tlv(der, 0);
  const [tbs] = children(der, cert.start, cert.end);
  const ext = children(der, tbs.start, tbs.end).find((c) => c.tag === 0xa3);
  if (!ext) return [];
  const [seq] = children(der, ext.start, ext.end);
  return children(der, seq.start, seq.end).map((e) => {
    const parts = children(der, e.start, e.end);
    const critical = parts[1]?.tag === 0x01 && der[parts[1].start] !== 0;
    return `${toHex(der.subarray(parts[0].start, parts[0].end))}${critical ? '!' : ''}`;
  });
}

export interface ReplayOptions {
  profile: Profile;
  profileName: string;
}

export function replaySession(session: Session, options: ReplayOptions): ReplayResult {
  const profile = structuredClone(options.profile);
  const card: VirtualCard = cardFromProfile(profile, { store: new MemoryStore(), source: options.profileName, faults: 'answer' });
  const sameCard = session.header.card.authCertSha256 === undefined || session.header.card.authCertSha256 === authCertSha256(profile);
  const result: ReplayResult = {
    session: session.file,
    profile: options.profileName,
    sameCard,
    compared: 0,
    skipped: [],
    notReplayable: [],
    notes: [],
    divergences: [],
  };
  const sel = new SelectionTracker(commandData);
  const recordedReads = new FileReads();
  const simReads = new FileReads();
  const commands = new Map<number, Command>();
  const reached = new Map<number, boolean>();
  /** The card's status word of an answer a fault cut, by seq. */
  const cutSw = new Map<number, string>();
  const profileCert = (which: 'auth' | 'sign') => {
    const pem = profile.certificates[which];
    return pem ? new X509Certificate(pem).publicKey : undefined;
  };
  // The key the simulator signs with: a learned profile's certificates are the physical card's, its keys its own (docs/card-learn.md)
  const profileKey = (which: 'auth' | 'sign') => {
    const pem = profile.keys[which];
    return pem ? createPublicKey(pem) : undefined;
  };

  const send = (c: Command, recordedAnswer: Uint8Array | undefined): Uint8Array | undefined => {
    const header = fromHex(c.apdu);
    const built = c.masked ? rebuild(header, recordedAnswer) : header;
    if (typeof built === 'string') {
      result.notReplayable.push({ seq: c.seq, line: c.line, command: redactCommand(header), why: built });
      return undefined;
    }
    const answer = card.transmit(built);
    return answer;
  };

  const rebuild = (header: Uint8Array, recordedAnswer: Uint8Array | undefined): Uint8Array | string => {
    const ins = header[1];
    const key = sel.keyAt(header[3]);
    if (!key.pin) return `masked ${commandName(header)} on ${key.label}: which PIN it carried cannot be told from the selection`;
    const value = profile.pins[key.pin].value;
    const failed = recordedAnswer !== undefined && swOf(recordedAnswer) !== 0x9000;
    const ascii = (v: string) => new Uint8Array(Buffer.from(v, 'latin1'));
    const withData = (data: Uint8Array) => Uint8Array.from([...header.subarray(0, 4), data.length, ...data]);
    if (ins === 0x20) return withData(ascii(failed ? wrongValue(key.pin, value) : value));
    // docs/card.md §4.3: 00 24 01 80 Lc <new> and 80 32 00 80 Lc <new>; the new value is the profile's (unchanged)
    if ((ins === 0x24 && header[2] === 0x01) || (ins === 0x32 && header[2] === 0x00)) return withData(ascii(value));
    return `masked ${commandName(header)} (P1 ${toHex(header.subarray(2, 3))}): docs/card.md §4.3 gives no public shape for it, so its data cannot be rebuilt`;
  };

  const compare = (c: Command, recorded: Uint8Array, replayed: Uint8Array): string | undefined => {
    const cmd = fromHex(c.apdu);
    if (swOf(recorded) !== swOf(replayed)) return 'status words differ';
    const rd = dataOf(recorded);
    const sd = dataOf(replayed);
    if (rd.length === 0 && sd.length === 0) return undefined;
    const ins = cmd[1];
    if (ins === 0x2a && (cmd[0] & 0xf0) === 0x80) return compareSignature(cmd, rd, sd);
    if (ins === 0x84) return rd.length === sd.length ? undefined : `GET CHALLENGE: ${rd.length} random bytes recorded, ${sd.length} replayed`;
    // another card's certificates differ in length with the holder's name: compared whole, by structure, at the end
    if (!sameCard && ins === 0xb0 && sel.df === 'jpki' && sel.ef !== undefined && CERT_EFS.has(sel.ef)) return undefined;
    if (!sameCard && (ins === 0xb0 || ins === 0xb2 || ins === 0x88 || ins === 0xca))
      return rd.length === sd.length ? undefined : `data of ${rd.length} bytes recorded, ${sd.length} replayed (another card: compared by length)`;
    if (equal(rd, sd)) return undefined;
    const at = rd.findIndex((b, i) => b !== sd[i]);
    return rd.length !== sd.length ? `data of ${rd.length} bytes recorded, ${sd.length} replayed` : `data differ from byte ${at}`;
  };

  const compareSignature = (cmd: Uint8Array, recordedSig: Uint8Array, simSig: Uint8Array): string | undefined => {
    const keyFid = cmd[3] === 0x80 ? sel.ef : cmd[3] & 0x1f;
    const which = keyFid !== undefined && sel.df === 'jpki' ? CERT_OF_KEY[keyFid] : undefined;
    let data: Uint8Array;
    try {
      data = cmd.subarray(5, 5 + cmd[4]);
    } catch {
      data = new Uint8Array(0);
    }
    if (!which) return recordedSig.length === simSig.length ? undefined : `signature of ${recordedSig.length} bytes recorded, ${simSig.length} replayed`;
    const simKey = profileKey(which.profile);
    if (!simKey || !verifies(simKey, cmd[2], data, simSig)) return `the simulator's signature does not verify with the profile's ${which.profile} key`;
    const recordedDer = recordedReads.certificate(`jpki/${which.ef}`);
    let recordedKey: KeyObject | undefined;
    try {
      recordedKey = recordedDer ? new X509Certificate(recordedDer).publicKey : sameCard ? profileCert(which.profile) : undefined;
    } catch {
      return `the recorded ${which.profile} certificate (EF ${which.ef.toString(16).padStart(4, '0').toUpperCase()}) does not parse as X.509`;
    }
    if (!recordedKey) {
      result.notes.push(
        `seq signature with the ${which.profile} key: not verified, the session never read that certificate (EF ${which.ef.toString(16).padStart(4, '0')})`,
      );
      return undefined;
    }
    return verifies(createPublicKey(recordedKey.export({ format: 'pem', type: 'spki' })), cmd[2], data, recordedSig)
      ? undefined
      : `the recorded signature does not verify with the recorded ${which.profile} certificate`;
  };

  const diverge = (c: Command, recorded: Uint8Array, replayed: Uint8Array, why: string) => {
    const cmd = fromHex(c.apdu);
    result.divergences.push({
      seq: c.seq,
      line: c.line,
      command: c.masked ? `${redactCommand(cmd)} <masked>` : redactCommand(cmd),
      name: commandName(cmd),
      section: sectionFor(cmd),
      recorded: view(recorded),
      replayed: view(replayed),
      why,
    });
  };

  for (const { line, event: e } of session.events) {
    switch (e.type) {
      case 'power-on':
      case 'insert':
        card.powerUp();
        sel.forget();
        break;
      case 'power-off':
      case 'remove':
        card.powerDown();
        sel.forget();
        break;
      case 'reset':
        card.reset();
        sel.forget();
        break;
      case 'command':
        commands.set(e.seq, { ...e, line });
        break;
      case 'fault':
        if (e.seq !== undefined && e.reachedCard !== undefined) reached.set(e.seq, e.reachedCard);
        if (e.seq !== undefined && e.cardSw !== undefined) cutSw.set(e.seq, e.cardSw);
        break;
      case 'response': {
        const c = commands.get(e.seq);
        if (!c) break;
        const recorded = fromHex(e.apdu);
        if (e.from) {
          result.skipped.push({ seq: c.seq, line: c.line, command: redactCommand(fromHex(c.apdu)), why: `answered by the ${e.from}, not the card: not sent` });
          break;
        }
        const replayed = send(c, recorded);
        if (!replayed) break;
        result.compared++;
        const why = compare(c, recorded, replayed);
        if (why) diverge(c, recorded, replayed, why);
        const cmd = fromHex(c.apdu);
        recordedReads.add(sel, cmd, recorded);
        simReads.add(sel, cmd, replayed);
        sel.track(cmd, recorded);
        break;
      }
      case 'no-response': {
        const c = commands.get(e.seq);
        if (!c) break;
        const cmd = fromHex(c.apdu);
        if (reached.get(e.seq)) {
          // the card acted on it (a cut answer, power lost after the counter write): sent so its state follows,
          // a masked VERIFY with the right value when the card said 9000 before its answer was cut, else a wrong one
          const replayed = send(c, fromHex(cutSw.get(e.seq) ?? '63C0'));
          if (replayed) sel.track(cmd, replayed);
          result.skipped.push({ seq: c.seq, line: c.line, command: redactCommand(cmd), why: `no answer recorded (${e.reason}): sent, not compared` });
        } else result.skipped.push({ seq: c.seq, line: c.line, command: redactCommand(cmd), why: `no answer recorded (${e.reason}): not sent` });
        break;
      }
      default:
        break;
    }
  }
  if (!sameCard) compareCertificates(recordedReads, simReads, result);
  return result;
}

/** Another card: each certificate both sides read in full is compared by structure. */
function compareCertificates(recorded: FileReads, sim: FileReads, result: ReplayResult): void {
  for (const key of recorded.keys()) {
    const a = recorded.certificate(key);
    const b = sim.certificate(key);
    if (!a || !b) continue;
    const diff = certificateStructureDifference(a, b);
    if (!diff) continue;
    const none: AnswerView = { bytes: a.length, sw: '9000', swName: swName(0x9000) };
    result.divergences.push({
      seq: 0,
      line: 0,
      command: `READ BINARY of EF ${key} (the whole certificate)`,
      name: 'READ BINARY',
      section: 'docs/card.md §3.1 (certificates), §8',
      recorded: none,
      replayed: { ...none, bytes: b.length },
      why: `certificates differ in structure: ${diff}`,
    });
  }
}
