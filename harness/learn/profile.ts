/**
 * A card profile from what `card learn` read (./read.ts) over a base profile (docs/card-learn.md):
 * the card's public parts and behaviour options, and everything the card does not show without a PIN
 * (private keys, holder data, PIN values, the issuer) from the base. The profile says so in its
 * `comment` and its `learned` field, which is also what lets its certificates carry a key that is not
 * the profile's own (simulator/profile/io.ts certificateKeyProblem).
 */
import { X509Certificate } from 'node:crypto';
import { toHex } from '../../simulator/apdu/codec.ts';
import { InputError } from '../../simulator/errors.ts';
import type { Behaviour, Profile } from '../../simulator/profile/schema.ts';
import type { LearnedCard, PinKind } from './read.ts';

/** What the learned profile does not take from the card, and why: its `learned.note`. */
export const LEARNED_NOTE =
  'Learned by `myna-hil card learn` from a physical card without a PIN. From the card: ATR, token label and serial, ' +
  'auth and CA certificates, card serial, municipality code and expiry, tries left per PIN, and the behaviour options of the probes. ' +
  'Not from the card: the private keys (they never leave it; these keys are new, so signatures this simulated card makes do NOT verify ' +
  'with the learned certificates), the sign certificate (behind the sign password), the holder data, the issuer and its signed 券面 files, ' +
  'and the PIN values (placeholders, those of the base profile; the card never tells them).';

const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const pem = (der: Uint8Array, what: string): string => {
  try {
    return new X509Certificate(der).toString();
  } catch (err) {
    throw new InputError(`the card's ${what} is not an X.509 certificate (${(err as Error).message}); card learn cannot use it`);
  }
};
/** The DER inside a certificate EF (the bytes after `30 82 LL LL` + length are filler). */
const derOf = (ef: Uint8Array): Uint8Array => ef.subarray(0, ((ef[2] << 8) | ef[3]) + 4);
const isoDate = (yyyymmdd: string) => `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;

/** Serial, municipality code and expiry: from 共通カードAP record 1 (`01 1C` + 28 digits), else GET DATA. */
function cardNumbers(card: LearnedCard, notes: string[]): { serial?: string; municipalityCode?: string; expiry?: string } {
  const rec = card.commonRecord;
  if (rec && rec[0] === 0x01 && rec[1] === 0x1c && /^\d{28}$/.test(latin1(rec.subarray(2, 30)))) {
    const d = latin1(rec.subarray(2, 30));
    return { serial: d.slice(0, 15), municipalityCode: d.slice(15, 20), expiry: isoDate(d.slice(20, 28)) };
  }
  if (rec) notes.push('共通カードAP record 1 is not 01 1C + 28 digits (docs/card.md §3.5): ignored');
  const get = (tag: number, re: RegExp) => {
    const v = card.getData.get(tag);
    return v && re.test(latin1(v)) ? latin1(v) : undefined;
  };
  const expiry = get(0x00f2, /^\d{8}$/);
  return { serial: get(0x0045, /^\d{15}$/), municipalityCode: get(0x00f0, /^\d{5}$/), expiry: expiry && isoDate(expiry) };
}

/** Token label and serial from EF 0006 (docs/card.md §3.1.1: label at 0, serialNumber at 80, space-filled). */
function tokenFields(tokenInfo: Uint8Array, notes: string[]): { tokenLabel?: string; tokenSerial?: string } {
  const label = latin1(tokenInfo.subarray(0, 32)).replace(/[ \0]+$/, '');
  const serial = latin1(tokenInfo.subarray(80, 96)).trim();
  const out: { tokenLabel?: string; tokenSerial?: string } = {};
  if (/^[\x20-\x7e]{1,32}$/.test(label)) out.tokenLabel = label;
  else notes.push('the token label in EF 0006 is not printable ASCII: the base profile keeps its own');
  if (/^\d{16}$/.test(serial)) out.tokenSerial = serial;
  else notes.push('the token serial in EF 0006 is not 16 digits: the base profile keeps its own');
  if (tokenInfo.length !== 160) notes.push(`EF 0006 holds ${tokenInfo.length} bytes; the simulator's has 160 (docs/card.md §3.1.1)`);
  return out;
}

/** The behaviour options read, over the base's. */
function behaviourOf(base: Behaviour, card: LearnedCard, remaining: Partial<Record<PinKind, number>>, notes: string[]): Behaviour {
  const b = structuredClone(base);
  const l = card.behaviour;
  if (l.getData !== undefined) b.getData = l.getData;
  if (l.unknownAidSw) b.unknownAidSw = l.unknownAidSw;
  if (l.allowAidPrefix !== undefined) b.allowAidPrefix = l.allowAidPrefix;
  if (l.selectFciSw === null) delete b.selectFciSw;
  else if (l.selectFciSw) b.selectFciSw = l.selectFciSw;
  if (l.authCertNeedsPin !== undefined) b.authCertNeedsPin = l.authCertNeedsPin;
  if (l.missingSignCertSw) b.missingSignCertSw = l.missingSignCertSw;
  if (l.sfiShortForms !== undefined) b.sfiShortForms = l.sfiShortForms;
  if (l.certificatePadding) b.certificatePadding = l.certificatePadding;
  // The query shows tries left, not the limit: a count above the base's limit raises the limit to it.
  for (const [pin, left] of Object.entries(remaining) as Array<[PinKind, number]>) {
    if (left > b.maxTries[pin]) {
      notes.push(`the ${pin} PIN has ${left} tries left, more than the base's limit of ${b.maxTries[pin]}: behaviour.maxTries.${pin} = ${left}`);
      b.maxTries[pin] = left;
    }
  }
  return b;
}

/**
 * The learned profile: `base` with the card's public parts and behaviour. `base` must have a sign key
 * and certificate when the card has a sign certificate (`card new` makes one by default).
 */
export function learnedProfile(card: LearnedCard, base: Profile, meta: { reader: string; at: Date; baseSource: string }): Profile {
  const notes = [...card.notes];
  const p = structuredClone(base);
  delete p.learned;
  const atr = toHex(card.atr);
  p.card.atr = atr;
  Object.assign(p.card, tokenFields(card.tokenInfo, notes), cardNumbers(card, notes));
  if (card.authCert) p.certificates.auth = pem(derOf(card.authCert), 'auth certificate (JPKI EF 000A)');
  else notes.push('the auth certificate needs the auth PIN on this card: the base profile keeps its own');
  p.certificates.authCa = pem(derOf(card.authCa), 'auth CA certificate (JPKI EF 000B)');
  p.certificates.signCa = pem(derOf(card.signCa), 'sign CA certificate (JPKI EF 0002)');
  if (card.hasSignCert && !(p.keys.sign && p.certificates.sign)) {
    throw new InputError(
      `${meta.baseSource}: the card has a signature certificate and the base profile has none (fix: give a --base made by \`card new\` without --variant minor / face-auth-only)`,
    );
  }
  if (!card.hasSignCert) {
    delete p.keys.sign;
    delete p.certificates.sign;
    if (p.variant === 'adult') p.variant = 'minor';
  }
  for (const [pin, left] of Object.entries(card.remaining) as Array<[PinKind, number]>) p.pins[pin].remaining = left;
  p.behaviour = behaviourOf(p.behaviour, card, card.remaining, notes);
  p.createdAt = meta.at.toISOString();
  p.comment = `Learned from the card in "${meta.reader}" by myna-hil card learn; keys, holder data and PIN values are NOT the card's (see learned.note)`;
  p.learned = {
    reader: meta.reader,
    at: meta.at.toISOString(),
    atr,
    probes: card.probes.map(({ probe, command, answer, option }) => ({ probe, command, answer, ...(option ? { option } : {}) })),
    note: [LEARNED_NOTE, ...notes].join(' '),
  };
  return p;
}
