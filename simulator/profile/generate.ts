/**
 * generateProfile(options): a fresh virtual My Number Card with its own test CA, in about a second.
 *
 * Nine RSA-2048 keys are generated concurrently (node:crypto generateKeyPair, libuv thread pool):
 * authCa, signCa, auth, sign (not on `minor` / `face-auth-only` cards), textAp, faceAp, common,
 * issuer (signs the 券面 AP data) and cvcRoot (certifies the issuer key in the CVC). The CA and CVC
 * root private keys are not kept: profile schema v1 has no place for them.
 *
 * ## Options and defaults (also in the README)
 *
 * | Option (CLI flag)                | Default                                   | Rule                                         |
 * |----------------------------------|-------------------------------------------|----------------------------------------------|
 * | `variant` (`--variant`)          | `adult`                                   | adult, minor, expired, locked, face-auth-only, smartphone |
 * | `signPin` (`--sign-pin`)         | `ABC123`                                  | 6–16 of A–Z 0–9, ≥ 1 letter and ≥ 1 digit    |
 * | `authPin` (`--auth-pin`)         | `1234`                                    | 4 digits                                     |
 * | `jukiPin` (`--juki-pin`)         | `1234`                                    | 4 digits                                     |
 * | `kenmenPin` (`--kenmen-pin`)     | `1234`                                    | 4 digits                                     |
 * | `commonPin` (`--common-pin`)     | the juki PIN                              | 4 digits                                     |
 * | `name` (`--name`)                | `山田　太郎` (family, U+3000, given)       | 1–50 characters, no control characters       |
 * | `nameAlt` (`--name-alt`)         | `0` per character of the name             | certificate OID .2 (substitute-char positions)|
 * | `address` (`--address`)          | `東京都千代田区千代田１－１`                | 1–200 characters                             |
 * | `addressAlt` (`--address-alt`)   | `0` per character of the address          | certificate OID .6                           |
 * | `birthDate` (`--birth-date`)     | `1980-01-01`; `minor`: 10 years before today | YYYY-MM-DD, from 1868-01-25, not in the future; `minor` under 15 |
 * | `sex` (`--sex`)                  | `1`                                       | JIS X 0303: 1 male, 2 female, 9 n/a, 0 unknown |
 * | `myNumber` (`--my-number`)       | `123456789018`                            | 12 digits with a valid check digit           |
 * | `expiry` (`--expiry`)            | the 10th birthday after today (5th when under 18); `expired`: the last birthday before today | YYYY-MM-DD after the birth date; future, or past for `expired` |
 * | `securityCode` (`--security-code`)| `1234`                                   | 4 digits                                     |
 * | `municipality` (`--municipality`)| `13101` (千代田区)                         | 5 digits, prefecture 01–47                   |
 * | `lockedPin` (`--locked-pin`)     | `auth` (`locked` variant only)            | sign, auth, juki, kenmen, common             |
 * | `photoJp2` (`--photo`)           | fixtures/photo.jp2 (48×64 grey)           | a JP2 file (starts with the JP2 signature box)|
 * | `now`                            | the current time                          | the creation time ("today" is the date in Japan, UTC+9) |
 *
 * Variants: `minor` has no signature key or certificate (EF 0008 `00 8F 00`); `expired` has a card
 * expiry and certificate notAfter in the past; `locked` has `lockedPin` at 0 tries; `face-auth-only`
 * (顔認証マイナンバーカード) has the auth PIN locked on purpose and no signature certificate;
 * `smartphone` is the Android JPKI token (label `JPKIAPGPSETOKEN`, auth certificate behind the PIN).
 *
 * Certificates: validity from the creation time to the end of the expiry day in Japan (for `expired`:
 * from the start of the day 5 years before expiry); CA certificates from one day earlier to 5 years
 * after. Subjects
 * `CN=<20 random digits>, C=JP` [I] (docs/card.md §3.1 shows `CN=<serial-like digits>, C=JP`).
 */
import { createPublicKey, generateKeyPair, randomBytes, randomInt, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import * as a from '@peculiar/asn1-x509';
import { InputError } from '../errors.ts';
import {
  FOUR_DIGIT_RE,
  isValidSignPassword,
  myNumberCheckDigit,
  PinKind,
  PROFILE_FORMAT,
  PROFILE_VERSION,
  ProfileV1,
  Variant,
  type Profile,
  type ProfileInput,
} from './schema.ts';
import { buildCertificate, caExtensions, certificatePolicies, issuerAltName, jpkiSubjectAltName, keyUsage, noSubstitutes, POLICY, type Dn } from './certs.ts';
import { cvcDigestInfo, deriveFiles, issuerDigestInfos, keyId, signDigestInfo } from './files.ts';
import { EARLIEST_ERA_DATE } from './era.ts';
import { PHOTO_JP2_BASE64 } from './fixtures/photo.ts';

export interface GenerateOptions {
  variant?: Variant;
  signPin?: string;
  authPin?: string;
  jukiPin?: string;
  kenmenPin?: string;
  commonPin?: string;
  name?: string;
  nameAlt?: string;
  address?: string;
  addressAlt?: string;
  /** YYYY-MM-DD. */
  birthDate?: string;
  sex?: string;
  myNumber?: string;
  /** Card expiry, YYYY-MM-DD. */
  expiry?: string;
  securityCode?: string;
  municipality?: string;
  /** `locked` variant: which PIN is locked. */
  lockedPin?: string;
  /** JPEG 2000 face photo (JP2 container). */
  photoJp2?: Uint8Array;
  /** Creation time. */
  now?: Date;
  /** Progress messages (never PIN values), e.g. to stderr. */
  onProgress?: (message: string) => void;
}

/** Card-side ATR: the 2024 contact ATR recommended by docs/card.md §2. */
export const DEFAULT_ATR = '3BDA13FF8131FB468012392F31C173C601C03B';

const FLAGS: Record<string, string> = {
  variant: '--variant',
  signPin: '--sign-pin',
  authPin: '--auth-pin',
  jukiPin: '--juki-pin',
  kenmenPin: '--kenmen-pin',
  commonPin: '--common-pin',
  name: '--name',
  nameAlt: '--name-alt',
  address: '--address',
  addressAlt: '--address-alt',
  birthDate: '--birth-date',
  sex: '--sex',
  myNumber: '--my-number',
  expiry: '--expiry',
  securityCode: '--security-code',
  municipality: '--municipality',
  lockedPin: '--locked-pin',
  photoJp2: '--photo',
};

function bad(option: keyof GenerateOptions, problem: string, fix: string): InputError {
  return new InputError(`option ${option} (${FLAGS[option] ?? option}): ${problem} (fix: ${fix})`);
}

// ---------------------------------------------------------------------------------------------
// Dates (ISO YYYY-MM-DD strings)

const JST_MS = 9 * 3600_000;
/** The date in Japan at `t`. */
const japanDate = (t: Date): string => new Date(t.getTime() + JST_MS).toISOString().slice(0, 10);

function isCalendarDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** The holder's birthday in `year` (29 February → 28 February in common years [I]). */
function birthdayIn(birth: string, year: number): string {
  const md = birth.slice(5);
  const y = String(year).padStart(4, '0');
  return md === '02-29' && !isCalendarDate(`${y}-02-29`) ? `${y}-02-28` : `${y}-${md}`;
}

/** Completed years of age on `date`. */
function ageOn(birth: string, date: string): number {
  const years = Number(date.slice(0, 4)) - Number(birth.slice(0, 4));
  return date.slice(5) >= birth.slice(5) ? years : years - 1;
}

/** The n-th birthday strictly after `date` (the real card's validity rule counts birthdays after issue). */
function nthBirthdayAfter(birth: string, date: string, n: number): string {
  const y = Number(date.slice(0, 4));
  const first = birthdayIn(birth, y) > date ? y : y + 1;
  return birthdayIn(birth, first + n - 1);
}

/** The last birthday strictly before `date`. */
function lastBirthdayBefore(birth: string, date: string): string {
  const y = Number(date.slice(0, 4));
  return birthdayIn(birth, birthdayIn(birth, y) < date ? y : y - 1);
}

function yearsBefore(date: string, years: number): string {
  const y = Number(date.slice(0, 4)) - years;
  const md = date.slice(5) === '02-29' ? '02-28' : date.slice(5);
  return `${String(y).padStart(4, '0')}-${md}`;
}

/** End of an expiry day in Japan (23:59:59 JST). */
const endOfDayJapan = (date: string): Date => new Date(Date.parse(`${date}T23:59:59Z`) - JST_MS);
/** Start of a day in Japan (00:00:00 JST). */
const startOfDayJapan = (date: string): Date => new Date(Date.parse(`${date}T00:00:00Z`) - JST_MS);

// ---------------------------------------------------------------------------------------------
// Options

interface Resolved {
  variant: Variant;
  pins: Record<PinKind, string>;
  holder: Profile['holder'];
  expiry: string;
  securityCode: string;
  municipality: string;
  lockedPin: PinKind;
  photo: Uint8Array;
  now: Date;
  today: string;
}

const JP2_SIGNATURE = Uint8Array.of(0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a);

function checkText(option: 'name' | 'nameAlt' | 'address' | 'addressAlt', v: string, max: number): string {
  const n = [...v].length;
  if (n === 0 || n > max) throw bad(option, `must have 1 to ${max} characters, has ${n}`, `give a shorter ${option}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\u0000-\u001f\u007f]/.test(v)) throw bad(option, 'contains a control character', 'remove line breaks and tabs');
  return v;
}

function fourDigits(option: keyof GenerateOptions, v: string, what: string): string {
  if (!FOUR_DIGIT_RE.test(v)) {
    throw bad(option, `the ${what} must be exactly 4 digits 0-9 (${[...v].length} characters given)`, 'e.g. 1234');
  }
  return v;
}

function signPassword(v: string): string {
  if (isValidSignPassword(v)) return v;
  const problems: string[] = [];
  if (v.length < 6 || v.length > 16) problems.push(`${v.length} characters given`);
  if (/[a-z]/.test(v)) problems.push('has lower-case letters (the card compares bytes; clients upper-case input)');
  if (/[^A-Za-z0-9]/.test(v)) problems.push('has characters other than letters and digits');
  if (!/[A-Za-z]/.test(v)) problems.push('has no letter');
  if (!/\d/.test(v)) problems.push('has no digit');
  throw bad('signPin', `the sign password must be 6 to 16 of A-Z and 0-9 with at least one letter and one digit: ${problems.join(', ')}`, 'e.g. ABC123');
}

function resolve(o: GenerateOptions): Resolved {
  const now = o.now ?? new Date();
  if (Number.isNaN(now.getTime())) throw new InputError('option now: not a valid time');
  const today = japanDate(now);

  const variant = o.variant ?? 'adult';
  if (!Variant.safeParse(variant).success) throw bad('variant', `unknown variant "${variant}"`, `one of ${Variant.options.join(', ')}`);

  if (o.lockedPin !== undefined && variant !== 'locked')
    throw bad('lockedPin', `only applies to the locked variant (variant is ${variant})`, 'add --variant locked or drop --locked-pin');
  const lockedPin = o.lockedPin ?? 'auth';
  if (!PinKind.safeParse(lockedPin).success) throw bad('lockedPin', `unknown PIN "${lockedPin}"`, `one of ${PinKind.options.join(', ')}`);

  const juki = fourDigits('jukiPin', o.jukiPin ?? '1234', 'resident registry (juki) PIN');
  const pins: Record<PinKind, string> = {
    sign: signPassword(o.signPin ?? 'ABC123'),
    auth: fourDigits('authPin', o.authPin ?? '1234', 'user authentication PIN'),
    juki,
    kenmen: fourDigits('kenmenPin', o.kenmenPin ?? '1234', 'card-info input support (kenmen) PIN'),
    common: fourDigits('commonPin', o.commonPin ?? juki, 'common card AP PIN'),
  };

  const birthDate = o.birthDate ?? (variant === 'minor' ? yearsBefore(today, 10) : '1980-01-01');
  if (!isCalendarDate(birthDate)) throw bad('birthDate', `"${birthDate}" is not a calendar date YYYY-MM-DD`, 'e.g. 1980-01-01');
  if (birthDate < EARLIEST_ERA_DATE)
    throw bad('birthDate', `${birthDate} is before the 明治 era, which 照合番号B cannot express`, `a date on or after ${EARLIEST_ERA_DATE}`);
  if (birthDate > today) throw bad('birthDate', `${birthDate} is in the future (today is ${today} in Japan)`, 'a past date');
  const age = ageOn(birthDate, today);
  if (variant === 'minor' && age >= 15)
    throw bad(
      'birthDate',
      `the holder is ${age}: a minor card (no signature certificate) is for holders under 15`,
      'a birth date less than 15 years ago, or another variant',
    );

  const sex = o.sex ?? '1';
  if (!['0', '1', '2', '9'].includes(sex)) throw bad('sex', `"${sex}" is not a JIS X 0303 code`, '1 male, 2 female, 9 not applicable, 0 unknown');

  const myNumber = o.myNumber ?? '123456789018';
  if (!/^\d{12}$/.test(myNumber)) throw bad('myNumber', `must be 12 digits (${myNumber.length} characters given)`, 'e.g. 123456789018');
  const check = myNumberCheckDigit(myNumber.slice(0, 11));
  if (Number(myNumber[11]) !== check)
    throw bad('myNumber', `the check digit is wrong: after ${myNumber.slice(0, 11)} it must be ${check}`, `use ${myNumber.slice(0, 11)}${check}`);

  const name = checkText('name', o.name ?? '山田　太郎', 50);
  const address = checkText('address', o.address ?? '東京都千代田区千代田１－１', 200);
  const holder: Profile['holder'] = {
    name,
    nameAlt: checkText('nameAlt', o.nameAlt ?? noSubstitutes(name), 200),
    address,
    addressAlt: checkText('addressAlt', o.addressAlt ?? noSubstitutes(address), 400),
    birthDate,
    sex: sex as Profile['holder']['sex'],
    myNumber,
  };

  const expiry = o.expiry ?? (variant === 'expired' ? lastBirthdayBefore(birthDate, today) : nthBirthdayAfter(birthDate, today, age >= 18 ? 10 : 5));
  if (!isCalendarDate(expiry)) throw bad('expiry', `"${expiry}" is not a calendar date YYYY-MM-DD`, 'e.g. 2035-01-01');
  if (expiry <= birthDate) throw bad('expiry', `${expiry} is not after the birth date ${birthDate}`, 'a later expiry');
  if (variant === 'expired' && expiry >= today)
    throw bad('expiry', `${expiry} is not in the past (today is ${today} in Japan): an expired card needs one`, 'an earlier date, or drop --expiry');
  if (variant !== 'expired' && expiry < today) throw bad('expiry', `${expiry} is in the past`, 'a future date, or --variant expired');
  if (Number(expiry.slice(0, 4)) > 9999) throw bad('expiry', 'year beyond 9999', 'a realistic date');

  const securityCode = fourDigits('securityCode', o.securityCode ?? '1234', 'security code');
  const municipality = o.municipality ?? '13101';
  if (!/^\d{5}$/.test(municipality) || Number(municipality.slice(0, 2)) < 1 || Number(municipality.slice(0, 2)) > 47) {
    throw bad('municipality', 'must be a 5-digit 全国地方公共団体コード whose first two digits are a prefecture 01-47', 'e.g. 13101 (千代田区)');
  }

  const photo = o.photoJp2 ?? new Uint8Array(Buffer.from(PHOTO_JP2_BASE64, 'base64'));
  if (photo.length < JP2_SIGNATURE.length || JP2_SIGNATURE.some((b, i) => photo[i] !== b)) {
    throw bad(
      'photoJp2',
      'not a JPEG 2000 file in the JP2 container (no signature box 00 00 00 0C 6A 50 20 20 0D 0A 87 0A)',
      'convert the photo, e.g. opj_compress -i photo.pgm -o photo.jp2',
    );
  }
  return { variant, pins, holder, expiry, securityCode, municipality, lockedPin: lockedPin as PinKind, photo, now, today };
}

// ---------------------------------------------------------------------------------------------

const newKey = promisify(generateKeyPair);
async function rsa2048(): Promise<KeyObject> {
  const { privateKey } = await newKey('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  return privateKey;
}

const pkcs8 = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();
const certPem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').trimEnd()}\n-----END CERTIFICATE-----\n`;

const digits = (n: number): string => Array.from({ length: n }, () => randomInt(10)).join('');

/** A positive 16-byte serial number. */
function serialNumber(): Uint8Array {
  const s = new Uint8Array(randomBytes(16));
  s[0] = (s[0] & 0x7f) | 0x01;
  return s;
}

const TEST_OU = 'TEST ONLY - NOT Japan Agency for Local Authority Information Systems';
const caDn = (purpose: 'user authentication' | 'digital signature'): Dn => [
  ['C', 'JP'],
  ['O', 'JPKI'],
  ['OU', TEST_OU],
  ['OU', `JPKI for ${purpose}`],
  ['CN', `myna-hil TEST CA for ${purpose}`],
];
/** issuerAltName of end-entity certificates (real: C=JP, O=公的個人認証サービス). */
const ISSUER_ALT: Dn = [
  ['C', 'JP'],
  ['O', '公的個人認証サービス (myna-hil TEST)'],
];

export async function generateProfile(options: GenerateOptions = {}): Promise<Profile> {
  const r = resolve(options);
  const hasSign = r.variant !== 'minor' && r.variant !== 'face-auth-only';
  const names = ['authCa', 'signCa', 'auth', ...(hasSign ? ['sign'] : []), 'textAp', 'faceAp', 'common', 'issuer', 'cvcRoot'] as const;
  options.onProgress?.(`generating ${names.length} RSA-2048 keys…`);
  const generated = await Promise.all(names.map(() => rsa2048()));
  const key = Object.fromEntries(names.map((n, i) => [n, generated[i]])) as Record<(typeof names)[number] | 'sign', KeyObject>;
  options.onProgress?.('issuing certificates and signing the card files…');

  // Certificates (docs/card.md §3.1)
  const createdAt = new Date(Math.floor(r.now.getTime() / 1000) * 1000);
  const notAfter = endOfDayJapan(r.expiry);
  const notBefore = r.variant === 'expired' ? startOfDayJapan(yearsBefore(r.expiry, 5)) : createdAt;
  const caNotBefore = new Date(notBefore.getTime() - 86400_000);
  const caNotAfter = endOfDayJapan(yearsBefore(r.expiry, -5));
  const ca = (purpose: 'user authentication' | 'digital signature', k: KeyObject) => {
    const dn = caDn(purpose);
    return buildCertificate({
      serial: serialNumber(),
      subject: dn,
      issuer: dn,
      notBefore: caNotBefore,
      notAfter: caNotAfter,
      publicKey: k,
      signingKey: k,
      issuerPublicKey: k,
      extensions: caExtensions(),
    });
  };
  const authCa = ca('user authentication', key.authCa);
  const signCa = ca('digital signature', key.signCa);
  const auth = buildCertificate({
    serial: serialNumber(),
    subject: [
      ['C', 'JP'],
      ['CN', digits(20)],
    ],
    issuer: caDn('user authentication'),
    notBefore,
    notAfter,
    publicKey: key.auth,
    signingKey: key.authCa,
    issuerPublicKey: key.authCa,
    extensions: [keyUsage(a.KeyUsageFlags.digitalSignature), certificatePolicies(POLICY.auth), issuerAltName(ISSUER_ALT)],
  });
  const sign = hasSign
    ? buildCertificate({
        serial: serialNumber(),
        subject: [
          ['C', 'JP'],
          ['CN', digits(20)],
        ],
        issuer: caDn('digital signature'),
        notBefore,
        notAfter,
        publicKey: key.sign,
        signingKey: key.signCa,
        issuerPublicKey: key.signCa,
        extensions: [
          keyUsage(a.KeyUsageFlags.digitalSignature | a.KeyUsageFlags.nonRepudiation),
          certificatePolicies(POLICY.sign),
          issuerAltName(ISSUER_ALT),
          jpkiSubjectAltName(r.holder),
        ],
      })
    : undefined;

  const locked: Partial<Record<PinKind, true>> = r.variant === 'locked' ? { [r.lockedPin]: true } : r.variant === 'face-auth-only' ? { auth: true } : {};
  const pin = (k: PinKind) => (locked[k] ? { value: r.pins[k], remaining: 0 } : { value: r.pins[k] });
  const placeholder = '00'.repeat(256);

  const input: ProfileInput = {
    format: PROFILE_FORMAT,
    version: PROFILE_VERSION,
    variant: r.variant,
    comment: `TEST CARD made by myna-hil card new (variant ${r.variant}); not a real My Number Card`,
    createdAt: createdAt.toISOString(),
    holder: r.holder,
    card: {
      serial: digits(15),
      municipalityCode: r.municipality,
      expiry: r.expiry,
      securityCode: r.securityCode,
      atr: DEFAULT_ATR,
      tokenLabel: r.variant === 'smartphone' ? 'JPKIAPGPSETOKEN' : 'JPKIAPICCTOKEN2',
      tokenSerial: digits(16),
    },
    pins: { sign: pin('sign'), auth: pin('auth'), juki: pin('juki'), kenmen: pin('kenmen'), common: pin('common') },
    keys: {
      auth: pkcs8(key.auth),
      ...(hasSign ? { sign: pkcs8(key.sign) } : {}),
      textAp: pkcs8(key.textAp),
      faceAp: pkcs8(key.faceAp),
      common: pkcs8(key.common),
    },
    certificates: {
      auth: certPem(auth),
      ...(sign ? { sign: certPem(sign) } : {}),
      authCa: certPem(authCa),
      signCa: certPem(signCa),
    },
    issuer: {
      key: pkcs8(key.issuer),
      rootKeyId: Buffer.from(keyId('9000033')).toString('hex').toUpperCase(),
      keyId: Buffer.from(keyId(`${r.municipality}21`, '000'))
        .toString('hex')
        .toUpperCase(),
      rootPublicKey: createPublicKey(key.cvcRoot).export({ type: 'spki', format: 'pem' }).toString(),
      cvcSignature: placeholder,
      signatures: { textIntegrity: placeholder, textApKey: placeholder, face: placeholder, age: placeholder, myNumberImage: placeholder },
    },
    photoJp2: Buffer.from(r.photo).toString('base64'),
    behaviour: r.variant === 'smartphone' ? { authCertNeedsPin: true } : {},
  };
  const profile = ProfileV1.parse(input);

  // The issuer signs exactly what deriveFiles serves (the TBS functions of files.ts).
  const hex = (u: Uint8Array) => Buffer.from(u).toString('hex').toUpperCase();
  profile.issuer.cvcSignature = hex(signDigestInfo(key.cvcRoot, cvcDigestInfo(profile)));
  const digestInfos = issuerDigestInfos(profile);
  for (const n of Object.keys(digestInfos) as (keyof typeof digestInfos)[]) {
    profile.issuer.signatures[n] = hex(signDigestInfo(key.issuer, digestInfos[n]));
  }
  deriveFiles(profile); // fails here, not at card build time, if anything cannot be served
  return profile;
}
