/**
 * The card profile: what a virtual My Number Card *is*. A versioned JSON document.
 *
 * - holder data, PIN values, keys (PKCS#8 PEM), certificates (PEM), the issuer's integrity
 *   signatures, and every [I]/[U] behaviour of docs/card.md as an option with
 *   the spec's default.
 * - The card's file contents (EFs) are derived from the profile when the card is built
 *   (simulator/profile/files.ts); the issuer signatures over them are stored here, so that editing
 *   the holder data in a profile yields a *tampered* card whose integrity check fails.
 */
import { z } from 'zod';

export const PROFILE_FORMAT = 'myna-hil/card-profile';
export const PROFILE_VERSION = 1;

/** A status word option: an error SW (6xxx), never 61xx (more data) or 63xx (counters). */
const errorSw = z
  .string()
  .regex(/^6[0-9A-Fa-f]{3}$/, 'must be an error status word, 4 hex digits 6xxx')
  .refine((v) => !/^6[13]/i.test(v), 'must not be 61xx or 63xx, which clients read as more data or a PIN counter');
const hex = z.string().regex(/^(?:[0-9A-Fa-f]{2})*$/, 'must be a hex string (pairs of 0-9, A-F)');
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD');
const digits = (n: number) => z.string().regex(new RegExp(`^\\d{${n}}$`), `must be exactly ${n} digits`);
const pem = (label: string) => z.string().regex(new RegExp(`^-----BEGIN ${label}-----[\\s\\S]+-----END ${label}-----\\s*$`), `must be a PEM ${label}`);

// The value rules live in a zod-free module, so that the card core can use them without loading zod.
export { isValidMyNumber, myNumberCheckDigit } from './rules.ts';
export { FOUR_DIGIT_RE, isValidSignPassword, SIGN_PIN_RE } from '../pin/rules.ts';
import { isValidMyNumber } from './rules.ts';
import { userPinValueProblem } from '../pin/rules.ts';

export const PinKind = z.enum(['sign', 'auth', 'juki', 'kenmen', 'common']);
export type PinKind = z.infer<typeof PinKind>;

/** Each PIN value must follow its kind's rule (USER_PIN_FORMATS): the message names the rule, never the value. */
function userPinValues(pins: Record<PinKind, { value: string }>, ctx: z.RefinementCtx): void {
  for (const kind of PinKind.options) {
    const problem = userPinValueProblem(kind, pins[kind].value);
    if (problem) ctx.addIssue({ code: 'custom', path: [kind, 'value'], message: problem });
  }
}

const pinSpec = z.strictObject({
  /** Current value as the holder would type it (ASCII). */
  value: z.string(),
  /** Tries left when the card is made (max when absent; 0 = locked). */
  remaining: z.number().int().min(0).max(15).optional(),
});

export const Variant = z.enum(['adult', 'minor', 'expired', 'locked', 'face-auth-only', 'smartphone']);
export type Variant = z.infer<typeof Variant>;

/** Every [I]/[U] behaviour of the spec as an option; defaults are the spec's. */
export const Behaviour = z
  .strictObject({
    /** Retry limits of the user PINs (spec: sign 5, others 3). */
    maxTries: z
      .strictObject({
        sign: z.number().int().min(1).max(15).default(5),
        auth: z.number().int().min(1).max(15).default(3),
        juki: z.number().int().min(1).max(15).default(3),
        kenmen: z.number().int().min(1).max(15).default(3),
        common: z.number().int().min(1).max(15).default(3),
        /** 照合番号A/B and the birth-date key [U]; yuki-js/sc-tools-myna says 3 (for the 券面事項確認AP ones). */
        verificationKeys: z.number().int().min(1).max(15).default(3),
        /** Per-key overrides of verificationKeys (docs/card.md §4.1 lists each as [U]). */
        textA: z.number().int().min(1).max(15).optional(),
        textB: z.number().int().min(1).max(15).optional(),
        faceA: z.number().int().min(1).max(15).optional(),
        faceB: z.number().int().min(1).max(15).optional(),
        faceBirth: z.number().int().min(1).max(15).optional(),
      })
      .prefault({}),
    /**
     * Selecting *another* application (SELECT by AID) clears the verified flags [I] (docs/card.md §9.2).
     * Off: a PIN verified in one application stays verified after visiting another.
     */
    selectDfClearsVerified: z.boolean().default(true),
    /**
     * Re-selecting the application *already selected* clears the verified flags [U]. OpenSC logs out by
     * re-selecting the application (docs/card.md §9.2), which relies on it; a Python client in the wild re-selects the
     * JPKI AP between VERIFY and the signature and expects the PIN to stay verified (off). Real
     * cards are not documented for this case.
     */
    reselectClearsVerified: z.boolean().default(true),
    /** A signature with the sign key keeps the sign password verified [U] (docs/card.md §6). */
    signKeepsVerified: z.boolean().default(true),
    /** Select a DF by a prefix of its AID (JICSAP allows it) [I]. */
    allowAidPrefix: z.boolean().default(false),
    /** SW for a SELECT of an unknown AID [I]. */
    unknownAidSw: errorSw.default('6A82'),
    /** SW for CHANGE REFERENCE DATA / CHANGE KEY without prior VERIFY [I]. */
    changeWithoutVerifySw: errorSw.default('6982'),
    /** SW when the new PIN value violates the PIN's format [I] (docs/card.md §4.3: 6A80 or 6700). */
    newPinFormatSw: errorSw.default('6A80'),
    /** SW for VERIFY with more than 16 bytes of data [I]. */
    verifyTooLongSw: errorSw.default('6700'),
    /**
     * VERIFY with a value whose length no value of that key can have (e.g. 3 digits for the auth PIN)
     * [U] (docs/card.md §12.4): absent = compared like any wrong value (a try is spent, docs/card.md §9.4); a SW = answered
     * with it and no try spent.
     */
    verifyWrongLengthSw: errorSw.optional(),
    /** SELECT with P2 = 00 (FCI requested) [U]: absent = answered like P2 = 0C (no FCI); a SW = refused with it. */
    selectFciSw: errorSw.optional(),
    /** Cards without a signature certificate: EF 0001 / key 001A answer SELECT with this SW [U]. */
    missingSignCertSw: errorSw.default('6A82'),
    /** Filler byte after the object in 券面入力補助AP EF 0005 [U] (EF 0001's `FF FF` is a fact [T]). */
    filler: z.number().int().min(0).max(255).default(0xff),
    /**
     * Filler after the DER in the four JPKI certificate EFs [U] (docs/card.md §12.7: sizes exactly to the DER are
     * safe for every client listed; real EFs may be larger). Clients that read `size - offset` bytes
     * past the certificate then see these bytes.
     */
    certificatePadding: z
      .strictObject({ bytes: z.number().int().min(0).max(4096).default(0), byte: z.number().int().min(0).max(255).default(0xff) })
      .prefault({}),
    /** Physical size of 券面入力補助AP EF 0005 (≥ 256 so fixed 256-byte reads work) [I]. */
    textApBasicInfoSize: z.number().int().min(160).max(1024).default(256),
    /** Accept the short forms VERIFY P2 = 80+SFI and READ BINARY by SFI [1]. */
    sfiShortForms: z.boolean().default(true),
    /** Answer GET DATA at MF level (docs/card.md §3.6) [1]. */
    getData: z.boolean().default(true),
    /** RSASSA-PSS salt length in bytes for 80 2A P1 04/05 [U]. */
    pssSaltLength: z.number().int().min(0).max(222).default(32),
    /** Reading the auth certificate needs the auth PIN (smartphone JPKI token) [M]. */
    authCertNeedsPin: z.boolean().default(false),
  })
  .prefault({});
export type Behaviour = z.infer<typeof Behaviour>;

/**
 * Where a profile made by `myna-hil card learn` came from (docs/card-learn.md). Its presence is what
 * allows certificates whose public key is not the profile's own key (io.ts certificateKeyProblem): a
 * learned profile carries the physical card's certificates but freshly made keys, as the card's
 * private keys never leave it. Signatures such a card makes do not verify with its certificates.
 */
export const Learned = z.strictObject({
  /** The PC/SC reader the card was in. */
  reader: z.string().min(1),
  /** When it was read (ISO 8601). */
  at: z.string().min(1),
  /** The card's ATR, hex. */
  atr: hex.min(4),
  /** Every probe sent and what the card answered (no probe carries PIN data). */
  probes: z.array(
    z.strictObject({
      probe: z.string(),
      /** The command, spaced hex. */
      command: z.string(),
      /** The status word, 4 hex digits, and the length of the data returned if any. */
      answer: z.string(),
      /** The behaviour option (or profile field) set from the answer. */
      option: z.string().optional(),
    }),
  ),
  /** What is not the card's in this profile (keys, holder data, PIN values) and why. */
  note: z.string(),
});
export type Learned = z.infer<typeof Learned>;

/** Objects are strict: a misspelled key in a hand-edited profile is an error, not silently dropped. */
export const ProfileV1 = z.strictObject({
  format: z.literal(PROFILE_FORMAT),
  version: z.literal(1),
  variant: Variant,
  /** Free text; generator writes what made the card. */
  comment: z.string().optional(),
  createdAt: z.string(),
  holder: z.strictObject({
    /** Family and given name separated by U+3000. */
    name: z.string().min(1),
    /**
     * Value of the certificate's OID .2 (and addressAlt of .6): on real certificates not another
     * spelling but one substitute-character flag ('0'/'1') per character of the name.
     */
    nameAlt: z.string().optional(),
    address: z.string().min(1),
    addressAlt: z.string().optional(),
    birthDate: date,
    /** JIS X 0303: '1' male, '2' female, '9' not applicable, '0' unknown. */
    sex: z.enum(['0', '1', '2', '9']),
    myNumber: digits(12).refine(isValidMyNumber, 'My Number check digit is wrong'),
  }),
  card: z.strictObject({
    /** 15-digit card serial (共通カードAP record 1). */
    serial: digits(15),
    /** 全国地方公共団体コード, 5 digits (6 with check digit is not used here). */
    municipalityCode: digits(5),
    /** Card expiry date (有効期限). */
    expiry: date,
    /** 4-digit security code printed on the card front (part of 照合番号B). */
    securityCode: digits(4),
    /** ATR presented on power-up. */
    atr: hex.min(4),
    /** JPKI token label in EF 0006 (JPKIAPICCTOKEN2 card, JPKIAPGPSETOKEN Android SE). */
    tokenLabel: z.string().min(1).max(32),
    /** 16 ASCII digits in EF 0006 serialNumber. */
    tokenSerial: digits(16),
  }),
  pins: z
    .strictObject({
      sign: pinSpec,
      auth: pinSpec,
      juki: pinSpec,
      kenmen: pinSpec,
      /** 共通カードAP 001C, a separate key reference usually set to the juki value. */
      common: pinSpec,
    })
    .superRefine(userPinValues),
  /** PKCS#8 PEM private keys. `sign` is absent on cards without a signature certificate. */
  keys: z.strictObject({
    auth: pem('PRIVATE KEY'),
    sign: pem('PRIVATE KEY').optional(),
    /** 券面入力補助AP own key (IEF 0013). */
    textAp: pem('PRIVATE KEY'),
    /** 券面事項確認AP own key. */
    faceAp: pem('PRIVATE KEY'),
    /** 共通カードAP INTERNAL AUTHENTICATE key (IEF 0019). */
    common: pem('PRIVATE KEY'),
  }),
  certificates: z.strictObject({
    auth: pem('CERTIFICATE'),
    sign: pem('CERTIFICATE').optional(),
    authCa: pem('CERTIFICATE'),
    signCa: pem('CERTIFICATE'),
  }),
  /** The test issuer (municipality / JLIS stand-in): signs the 券面 AP integrity data. */
  issuer: z.strictObject({
    /** Issuer signing key, PKCS#8 PEM (kept so issuer operations can re-sign). */
    key: pem('PRIVATE KEY'),
    /** 16-byte key IDs, hex: the CVC root that certifies the issuer key, and the issuer key. */
    rootKeyId: hex.length(32),
    keyId: hex.length(32),
    /** CVC root public key (SPKI PEM), for clients that check the CVC in EF 0004. */
    rootPublicKey: pem('PUBLIC KEY'),
    /** CVC signatures by the root over the issuer key (text AP, face AP), hex. */
    cvcSignature: hex,
    /** Signatures over the derived files (hex, 256 bytes each): see simulator/profile/files.ts. */
    signatures: z.strictObject({
      textIntegrity: hex, // 券面入力補助AP 0003 DF33
      textApKey: hex, // 券面入力補助AP 0007 DF52
      face: hex, // 券面事項確認AP 0002 DF28
      age: hex, // 券面事項確認AP 0001 DF13
      myNumberImage: hex, // 券面事項確認AP 0005 DF43
    }),
  }),
  /** JPEG 2000 (JP2) face photo, base64. */
  photoJp2: z.string().min(1),
  behaviour: Behaviour,
  /** Present on profiles made by `myna-hil card learn` only: see {@link Learned}. */
  learned: Learned.optional(),
});
export type Profile = z.infer<typeof ProfileV1>;
export type ProfileInput = z.input<typeof ProfileV1>;
