/**
 * The reference kiosk: what a vendor's JPKI client should do, over any {@link ApduChannel} (PC/SC in
 * ./cli.ts, the runner's in-process card in ./module.ts). It reads the auth certificate, asks the card
 * for the tries left before it asks for a PIN, checks the PIN's format locally, confirms the last try,
 * tells a lock from a wrong PIN, and signs a challenge with the auth key or the sign key.
 *
 * It is a CLIENT: it knows the card only through harness/flows (AIDs and file IDs written from
 * docs/card.md, the APDU encoder, the TLV reader), never through the simulator. The requirement ids
 * (CLIENT-0xx, KIOSK-0xx) are those of the client-requirements suite.
 *
 * Exit codes (distinct, so that a script or the scenario runner can tell the outcomes apart):
 *   0  signed; the signature was printed as hex or written to the output file
 *   2  usage: bad arguments (cli.ts)
 *   3  the PIN is locked (query 63 C0, or 63 C0 / 69 84 to the VERIFY); nothing more was sent to it
 *   4  the user declined the last try; no VERIFY with data was sent
 *   5  the card has no signature certificate (minor or face-authentication-only card) and the sign key
 *      was asked for; no sign password was asked for
 *   6  card error: not a My Number Card, an unexpected status word, no response, a PC/SC failure
 *   7  malformed PIN refused locally (format or lower case); nothing was sent to the card
 *   8  wrong PIN: the card counted one try (63 Cx, x > 0); the tries left were printed
 *
 * A PIN is never printed, logged or put in an error message (CLIENT-006); it goes only into the data
 * of one VERIFY (CLIENT-013: one entry, at most one VERIFY with data).
 */
import { verify, X509Certificate } from 'node:crypto';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { cmd, split } from '../../harness/flows/apdu.ts';
import { AID, EF, sha256, sha256DigestInfo } from '../../harness/flows/card-ref.ts';
import { readHeader } from '../../harness/flows/tlv.ts';

export const EXIT = {
  ok: 0,
  usage: 2,
  locked: 3,
  declined: 4,
  noSignCertificate: 5,
  cardError: 6,
  malformedPin: 7,
  wrongPin: 8,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type KeyChoice = 'auth' | 'sign';

/** What the kiosk needs from its surroundings: a prompt (TTY, PTY, the runner's answers) and an output line. */
export interface KioskIo {
  /** Asks and resolves with the reply; `secret` asks for no echo (a PIN). */
  prompt(text: string, opts?: { secret?: boolean }): Promise<string>;
  print(line: string): void;
}

/**
 * The wrong things the faulty twin (examples/kiosk-faulty) does, as switches on the one kiosk, so that
 * the two differ exactly in these and nothing else. All off in the reference kiosk.
 */
export interface KioskFaults {
  /** Skip the tries-left query and the last-try confirmation (breaks CLIENT-010, CLIENT-012). */
  noQuery?: boolean;
  /** Re-send a PIN the card refused until it locks (breaks CLIENT-013, CLIENT-015). */
  retryUntilLocked?: boolean;
  /** Let lower-case letters of the sign password through to the card (breaks CLIENT-003). */
  sendLowerCase?: boolean;
  /** Print the PIN in a debug line (breaks CLIENT-006). */
  printPin?: boolean;
}

export interface KioskOptions {
  key: KeyChoice;
  /** The bytes to sign; the card signs their SHA-256 DigestInfo. */
  challenge: Uint8Array;
  /** Where the signature goes; without it, it is printed as hex. */
  writeSignature?: (signature: Uint8Array) => Promise<void>;
  faults?: KioskFaults;
}

/** One PIN as the kiosk knows it: its official name (CLIENT-001), its key EFs and its format (CLIENT-002). */
interface PinKind {
  label: string;
  /** Short name for messages after the first (tries left, lock). */
  short: string;
  pinEf: number;
  keyEf: number;
  /** The format check; returns what is wrong with the entry, or undefined. Never quotes the entry. */
  problem(entry: string, faults: KioskFaults): string | undefined;
  /** Where to go when it is locked (CLIENT-016), and the face-auth card case for the auth PIN (CLIENT-022). */
  lockedRoute: string[];
}

const PIN: Record<KeyChoice, PinKind> = {
  auth: {
    label: '利用者証明用電子証明書暗証番号 (auth PIN, 4 digits)',
    short: '利用者証明用暗証番号 (auth PIN)',
    pinEf: EF.jpki.authPin,
    keyEf: EF.jpki.authKey,
    problem: (entry) =>
      /^[0-9]{4}$/.test(entry) ? undefined : `数字4桁で入力してください (the auth PIN is exactly 4 digits 0-9; ${entry.length} characters entered)`,
    lockedRoute: [
      '市区町村の窓口で初期化・再設定してください。署名用パスワードが分かれば、JPKI暗証番号リセットアプリと対応するコンビニのキオスク端末でも再設定できます。',
      '(reset it at the municipal counter; if you know the sign password, also with the JPKI PIN reset app and a participating convenience-store kiosk)',
      '顔認証マイナンバーカードでは暗証番号は使えません。窓口で通常のカードへの切り替えを相談してください。',
      '(a face-authentication-only card has its auth PIN locked on purpose: ask the municipal counter to switch back)',
    ],
  },
  sign: {
    label: '署名用電子証明書パスワード (sign password, 6-16 upper-case letters A-Z and digits 0-9)',
    short: '署名用パスワード (sign password)',
    pinEf: EF.jpki.signPin,
    keyEf: EF.jpki.signKey,
    problem: (entry, faults) => {
      if (entry.length < 6 || entry.length > 16)
        return `6文字以上16文字以下で入力してください (the sign password has 6 to 16 characters; ${entry.length} entered)`;
      // CLIENT-003: refuse lower case with a 大文字 hint rather than send bytes the card would count as wrong.
      if (/[a-z]/.test(entry) && !faults.sendLowerCase) return 'アルファベットは大文字で入力してください (letters must be upper case A-Z: check Caps Lock)';
      if (!/^[A-Za-z0-9]+$/.test(entry)) return '英大文字と数字だけで入力してください (only letters A-Z and digits 0-9)';
      return undefined;
    },
    lockedRoute: [
      '市区町村の窓口で初期化・再設定してください。利用者証明用暗証番号が分かれば、JPKI暗証番号リセットアプリとコンビニのキオスク端末でも再設定できます。',
      '(reset it at the municipal counter; if you know the auth PIN, also with the JPKI PIN reset app and a convenience-store kiosk)',
    ],
  },
};

/** Unwinds the kiosk with an exit code and the lines that explain it. */
class Stop extends Error {
  constructor(
    readonly exit: ExitCode,
    readonly lines: string[],
  ) {
    super(lines[0]);
  }
}

const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex').toUpperCase();
const swHex = (sw: number): string => sw.toString(16).toUpperCase().padStart(4, '0');
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const cardError = (what: string, sw: number): Stop => new Stop(EXIT.cardError, [`カードエラー (card error): ${what} answered ${swHex(sw)}`]);

/** The card as the kiosk talks to it: every response must carry a status word. */
class Card {
  constructor(private readonly channel: ApduChannel) {}

  async send(command: Uint8Array, what: string): Promise<{ data: Uint8Array; sw: number }> {
    let raw: Uint8Array;
    try {
      raw = await this.channel.transmit(command);
    } catch (err) {
      // CLIENT-032: a transport failure is reported as such, and nothing is re-sent (CLIENT-013).
      throw new Stop(EXIT.cardError, [`カードと通信できません (the card did not answer ${what}): ${(err as Error).message}`]);
    }
    if (raw.length < 2) throw new Stop(EXIT.cardError, [`カードと通信できません (no status word to ${what}: ${raw.length} bytes)`]);
    return split(raw);
  }

  async ok(command: Uint8Array, what: string): Promise<Uint8Array> {
    const r = await this.send(command, what);
    if (r.sw !== 0x9000) throw cardError(what, r.sw);
    return r.data;
  }

  /** Reads a DER object: its 4-byte header first, then the rest in chunks of at most 256 bytes (docs/card.md §8). */
  async readDer(what: string): Promise<Uint8Array> {
    const head = await this.ok(cmd.readBinary(0, 4), `READ BINARY of the ${what} header`);
    let total: number;
    try {
      const h = readHeader(head);
      total = h.headerLength + h.length;
    } catch (err) {
      throw new Stop(EXIT.cardError, [`カードエラー (card error): the ${what} does not start with a DER header: ${(err as Error).message}`]);
    }
    const out = new Uint8Array(total);
    out.set(head.subarray(0, Math.min(head.length, total)));
    for (let off = head.length; off < total; off += 256) {
      const n = Math.min(256, total - off);
      const chunk = await this.ok(cmd.readBinary(off, n), `READ BINARY of the ${what} at ${off}`);
      if (chunk.length !== n) throw new Stop(EXIT.cardError, [`カードエラー (card error): READ BINARY at ${off} gave ${chunk.length} bytes, asked ${n}`]);
      out.set(chunk, off);
    }
    return out;
  }
}

/** Runs the kiosk once; resolves with its exit code (see the table at the top). Never throws for card trouble. */
export async function runKiosk(channel: ApduChannel, io: KioskIo, options: KioskOptions): Promise<ExitCode> {
  try {
    await session(new Card(channel), io, options);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    for (const line of err.lines) io.print(line);
    return err.exit;
  }
}

async function session(card: Card, io: KioskIo, options: KioskOptions): Promise<void> {
  const faults = options.faults ?? {};
  const pin = PIN[options.key];
  await card.ok(cmd.selectAp(AID.jpki), 'SELECT of the JPKI AP').catch((err: unknown) => {
    // CLIENT-020: the card is recognised by its application, not by its ATR; 6A 82 means "not a My Number Card".
    if (err instanceof Stop) err.lines.unshift('マイナンバーカードではありません (no JPKI application: not a My Number Card?)');
    throw err;
  });
  const cert = await readAuthCertificate(card, io);
  if (options.key === 'sign') await requireSignCertificate(card);

  await card.ok(cmd.selectEf(pin.pinEf), `SELECT of the ${pin.short}`);
  const tries = faults.noQuery ? undefined : await queryTries(card, io, pin);

  const entry = await io.prompt(`${pin.label}: `, { secret: true });
  // CLIENT-002: a malformed entry spends no try and changes no count shown.
  const problem = pin.problem(entry, faults);
  if (problem) throw new Stop(EXIT.malformedPin, [`入力形式が正しくありません (format error; nothing was sent to the card): ${problem}`]);
  if (faults.printPin) io.print(`debug: VERIFY ${pin.short} with "${entry}"`);
  if (tries === 1) await confirmLastTry(io);

  await verifyPin(card, io, pin, entry, faults);
  await card.ok(cmd.selectEf(pin.keyEf), `SELECT of the ${options.key} key`);
  const signature = await card.ok(cmd.signDigestInfo(sha256DigestInfo(sha256(options.challenge))), `COMPUTE DIGITAL SIGNATURE with the ${options.key} key`);
  // The auth signature is checked against the certificate just read: the kiosk hands on only what the card really signed.
  if (options.key === 'auth' && !verify('sha256', options.challenge, cert.publicKey, signature)) {
    throw new Stop(EXIT.cardError, ['カードエラー (card error): the signature does not verify with the auth certificate']);
  }
  if (options.writeSignature) await options.writeSignature(signature);
  else io.print(`signature (${options.key} key, ${signature.length} bytes): ${hex(signature)}`);
  io.print('署名しました (signed)');
}

/** Reads EF 000A, which needs no PIN on the plastic card (docs/card.md §3.1), and names its holder's certificate. */
async function readAuthCertificate(card: Card, io: KioskIo): Promise<X509Certificate> {
  await card.ok(cmd.selectEf(EF.jpki.authCert), 'SELECT of the auth certificate (EF 000A)');
  const der = await card.readDer('auth certificate');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch (err) {
    throw new Stop(EXIT.cardError, [`カードエラー (card error): the auth certificate does not parse: ${(err as Error).message}`]);
  }
  io.print(`利用者証明用電子証明書 (auth certificate): ${cert.subject.replaceAll('\n', ', ')}, valid until ${cert.validTo}`);
  return cert;
}

/**
 * CLIENT-021: a card without a signature certificate (minor, face-authentication-only) is told apart
 * before a sign password is asked for. EF 0008 byte 0 is 00 on such cards [I], and SELECT of EF 0001
 * is refused there [U]; either one is enough (docs/card.md §3.1, §12.10).
 */
async function requireSignCertificate(card: Card): Promise<void> {
  await card.ok(cmd.selectEf(0x0008), 'SELECT of the certificate list (EF 0008)');
  const present = await card.ok(cmd.readBinary(0, 3), 'READ BINARY of the certificate list (EF 0008)');
  const selected = await card.send(cmd.selectEf(EF.jpki.signCert), 'SELECT of the sign certificate (EF 0001)');
  if (present[0] === 0x00 || selected.sw === 0x6a82) {
    throw new Stop(EXIT.noSignCertificate, [
      'このカードには署名用電子証明書がありません (this card has no signature certificate: a card of a holder under 15, or a face-authentication-only card).',
      '署名用パスワードは使えません。利用者証明用電子証明書で利用できるサービスをお使いください (use a service that works with the auth certificate).',
    ]);
  }
  if (selected.sw !== 0x9000) throw cardError('SELECT of the sign certificate (EF 0001)', selected.sw);
}

/** CLIENT-010: the empty VERIFY costs nothing and answers 63 Cx; shown before the user types (CLIENT-011). */
async function queryTries(card: Card, io: KioskIo, pin: PinKind): Promise<number> {
  const q = await card.send(cmd.verify(), `the tries-left query of the ${pin.short}`);
  if (q.sw >> 4 !== 0x63c) throw cardError(`the tries-left query of the ${pin.short}`, q.sw);
  const tries = q.sw & 0x0f;
  if (tries === 0) throw locked(pin, 'no PIN was sent');
  io.print(`${pin.short}: 残り${tries}回 (${tries} ${tries === 1 ? 'try' : 'tries'} left)`);
  if (tries === 1) io.print(`注意: 次に間違えると${pin.short}はロックされます (warning: one more wrong entry locks it)`);
  return tries;
}

/**
 * CLIENT-012: anything but an explicit yes keeps the last try. The prompt does not repeat the PIN's
 * name (the warning line before the PIN prompt gave it), so that an answer keyed on the PIN prompt's
 * words cannot be taken for the confirmation.
 */
async function confirmLastTry(io: KioskIo): Promise<void> {
  const answer = await io.prompt('残り1回です。間違えるとロックされます (last try: a wrong entry locks the PIN). continue? [y/N] ');
  if (!/^(y|yes)$/i.test(answer.trim())) throw new Stop(EXIT.declined, ['中止しました。カードには何も送っていません (stopped; the last try was not used)']);
}

/** CLIENT-013, CLIENT-015: one VERIFY per entry, and a lock is told apart from a wrong PIN. */
async function verifyPin(card: Card, io: KioskIo, pin: PinKind, entry: string, faults: KioskFaults): Promise<void> {
  for (;;) {
    const r = await card.send(cmd.verify(ascii(entry)), `VERIFY of the ${pin.short}`);
    if (r.sw === 0x9000) return;
    if (r.sw === 0x6984 || r.sw === 0x63c0) throw locked(pin, `the card answered ${swHex(r.sw)}`);
    if (r.sw >> 4 !== 0x63c) throw cardError(`VERIFY of the ${pin.short}`, r.sw);
    const left = r.sw & 0x0f;
    if (faults.retryUntilLocked) {
      io.print(`retrying (${left} left)`);
      continue;
    }
    throw new Stop(EXIT.wrongPin, [`${pin.short}が違います。残り${left}回 (wrong ${pin.short}: ${left} ${left === 1 ? 'try' : 'tries'} left)`]);
  }
}

function locked(pin: PinKind, detail: string): Stop {
  return new Stop(EXIT.locked, [`${pin.short}はロックされています (the ${pin.short} is locked; ${detail})`, ...pin.lockedRoute]);
}
