/**
 * `myna-hil card new` and `myna-hil card show`: make a virtual card profile, and look at one without
 * its secrets (PIN values and private keys are never printed).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../../simulator/errors.ts';
import { toEra } from '../../../simulator/profile/era.ts';
import { generateProfile, type GenerateOptions } from '../../../simulator/profile/generate.ts';
import { loadProfile, redactProfile, saveProfile } from '../../../simulator/profile/io.ts';
import { readJpkiAltNames } from '../../../simulator/profile/certs.ts';
import { Behaviour, type Learned, PinKind, Variant, type Profile } from '../../../simulator/profile/schema.ts';
import { readSecret, SECRET_EPILOG, secretOptions } from '../secrets.ts';

/** PIN values: each also as --X-file and --X-env (../secrets.ts). */
const PIN_OPTIONS = {
  'sign-pin': 'Signature password (署名用パスワード): 6-16 of A-Z 0-9, at least one letter and one digit [default: ABC123]',
  'auth-pin': 'User authentication PIN (利用者証明用暗証番号), 4 digits [default: 1234]',
  'juki-pin': 'Resident registry PIN (住民基本台帳用暗証番号), 4 digits [default: 1234]',
  'kenmen-pin': 'Card-info input support PIN (券面事項入力補助用暗証番号), 4 digits [default: 1234]',
  'common-pin': 'Common card AP PIN (共通カードAP 001C), 4 digits [default: the juki PIN]',
} as const;

const STRING_OPTIONS = {
  name: 'Holder name, family and given name separated by U+3000 [default: 山田　太郎]',
  'name-alt': 'Sign certificate OID .5.5.2: substitute-character positions of the name [default: one 0 per character]',
  address: 'Holder address [default: 東京都千代田区千代田１－１]',
  'address-alt': 'Sign certificate OID .5.5.6: substitute-character positions of the address [default: one 0 per character]',
  'birth-date': 'Birth date YYYY-MM-DD [default: 1980-01-01; minor: 10 years before today]',
  sex: 'Sex, JIS X 0303: 1 male, 2 female, 9 not applicable, 0 unknown [default: 1]',
  'my-number': 'My Number, 12 digits with a valid check digit [default: 123456789018]',
  expiry: 'Card expiry YYYY-MM-DD [default: the 10th birthday after today (5th if under 18); expired: the last birthday]',
  'security-code': 'Security code printed on the card front, 4 digits (part of 照合番号B) [default: 1234]',
  municipality: 'Municipality code (全国地方公共団体コード), 5 digits [default: 13101]',
  photo: 'Face photo, a JPEG 2000 file in the JP2 container [default: a built-in 48x64 grey silhouette]',
} as const;

const camel = (s: string) => s.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

interface NewArgs {
  out: string;
  force: boolean;
  variant?: string;
  'locked-pin'?: string;
  [k: string]: unknown;
}

const statOrUndefined = (path: string): Stats | undefined => {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
};

/** Refuses a bad --out before a second is spent on keys. */
function checkOut(out: string, force: boolean): void {
  const st = statOrUndefined(out);
  if (st && !st.isFile()) {
    const what = st.isDirectory() ? 'a directory' : 'not a regular file';
    throw new InputError(`${out}: is ${what}; --out names the profile file to write (fix: give a file path, e.g. ${join(out, 'card.json')})`);
  }
  if (st && !force) throw new InputError(`${out}: the file exists; refusing to overwrite it (fix: add --force, or choose another --out)`);
  if (!statOrUndefined(dirname(out))?.isDirectory()) {
    throw new InputError(`${out}: the directory ${dirname(out)} does not exist (fix: create it first)`);
  }
}

const newCommand: CommandModule<object, NewArgs> = {
  command: 'new',
  describe: 'Make a new virtual card: its own test CA, keys, certificates and issuer-signed files, in a profile file',
  builder: (y: Argv) => {
    let b = y
      .option('out', {
        alias: 'o',
        type: 'string',
        demandOption: true,
        describe: 'Profile file to write (JSON; holds PIN values and private keys, written with mode 0600)',
      })
      .option('variant', { type: 'string', choices: Variant.options, describe: 'Kind of card [default: adult]' })
      .option('locked-pin', { type: 'string', choices: PinKind.options, describe: 'With --variant locked: the PIN left with 0 tries [default: auth]' })
      .option('force', { type: 'boolean', default: false, describe: 'Overwrite --out if it exists' });
    for (const [name, describe] of Object.entries(PIN_OPTIONS)) b = secretOptions(b, name, describe);
    for (const [name, describe] of Object.entries(STRING_OPTIONS)) b = b.option(name, { type: 'string', describe, requiresArg: true });
    return b
      .example('$0 card new --out card.json', 'an adult card with the default holder and PINs')
      .example('$0 card new -o card.json --auth-pin-env AUTH_PIN --sign-pin-file sign.txt', 'PIN values from a variable and a file, not the command line')
      .example('printf \'%s\\n\' "$SIGN" | $0 card new -o card.json --sign-pin-file -', 'the signature password from standard input')
      .example('$0 card new -o minor.json --variant minor', 'a holder under 15: no signature certificate (EF 0008 = 00 8F 00)')
      .example('$0 card new -o locked.json --variant locked --locked-pin sign', 'the signature password already locked')
      .example("$0 card new -o hanako.json --name '鈴木　花子' --sex 2 --birth-date 1995-04-01 --my-number 234567890121", 'another holder')
      .example('$0 card new -o phone.json --variant smartphone', 'the Android JPKI token: label JPKIAPGPSETOKEN, auth certificate behind the PIN')
      .epilog(
        'Variants: adult (default), minor (no sign key/certificate), expired (card and certificates expired), ' +
          'locked (--locked-pin at 0 tries), face-auth-only (顔認証マイナンバーカード: auth PIN locked, no signature certificate), ' +
          'smartphone (Android JPKI token). Progress goes to stderr; PIN values are never printed.\n\n' +
          SECRET_EPILOG,
      ) as unknown as Argv<NewArgs>;
  },
  handler: async (args) => {
    const out = args.out;
    checkOut(out, args.force);
    const options: GenerateOptions = { onProgress: (m) => process.stderr.write(`${m}\n`) };
    const o = options as Record<string, unknown>;
    if (args.variant !== undefined) o.variant = args.variant;
    if (args['locked-pin'] !== undefined) o.lockedPin = args['locked-pin'];
    for (const name of Object.keys(PIN_OPTIONS)) {
      const v = readSecret(args, name, false);
      if (v !== undefined) o[camel(name)] = v;
    }
    for (const name of Object.keys(STRING_OPTIONS)) {
      const v = args[name];
      if (v === undefined) continue;
      if (name === 'photo') {
        try {
          options.photoJp2 = new Uint8Array(readFileSync(String(v)));
        } catch (e) {
          throw new InputError(`--photo ${String(v)}: cannot read it: ${(e as Error).message} (fix: give the path of a .jp2 file)`);
        }
      } else o[camel(name)] = String(v);
    }
    const started = performance.now();
    const profile = await generateProfile(options);
    try {
      saveProfile(out, profile, { exclusive: !args.force });
    } catch (e) {
      if (e instanceof InputError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new InputError(`${out}: the file appeared while the card was generated; refusing to overwrite it (fix: add --force, or choose another --out)`);
      }
      // Changed while the keys were made (a directory put there, permissions): still the user's path.
      throw new InputError(`${out}: cannot write the profile: ${(e as Error).message} (fix: give a writable file path as --out)`);
    }
    const ms = Math.round(performance.now() - started);
    process.stderr.write(`done in ${ms} ms\n`);
    process.stdout.write(
      `${out}: ${profile.variant} card for ${profile.holder.name}, My Number ${profile.holder.myNumber}, expires ${profile.card.expiry}` +
        ` (PINs: the values given or the defaults of --help)\n`,
    );
  },
};

// ---------------------------------------------------------------------------------------------

const SEX: Record<string, string> = { '0': 'unknown', '1': 'male', '2': 'female', '9': 'not applicable' };
const PIN_NAMES: Record<PinKind, string> = {
  sign: '署名用パスワード (signature, JPKI 001B)',
  auth: '利用者証明用暗証番号 (user authentication, JPKI 0018)',
  juki: '住民基本台帳用暗証番号 (resident registry, 住基AP 001C)',
  kenmen: '券面事項入力補助用暗証番号 (card-info input, 0011)',
  common: '共通カードAP PIN (001C)',
};

/** A 16-byte key ID (7 digits, 08 05, 3 digits, 4 bytes) as "9000033/001", or its hex if it has another shape. */
function keyIdText(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  const t = b.toString('latin1');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the key ID's fixed bytes 08 05 are part of its shape
  return /^\d{7}\x08\x05\d{3}/.test(t) ? `${t.slice(0, 7)}/${t.slice(9, 12)}` : hex;
}

/** "C=JP\nO=JPKI\nCN=x" (DER order) → "CN=x, O=JPKI, C=JP" (RFC 4514 order). */
const dn = (s: string) => s.split('\n').reverse().join(', ');

function certLines(label: string, pem: string | undefined): string[] {
  if (!pem) return [`  ${label.padEnd(9)} (none)`];
  const c = new X509Certificate(pem);
  const lines = [
    `  ${label.padEnd(9)} subject  ${dn(c.subject)}`,
    `  ${''.padEnd(9)} issuer   ${dn(c.issuer)}`,
    `  ${''.padEnd(9)} valid    ${new Date(c.validFrom).toISOString()} → ${new Date(c.validTo).toISOString()}${new Date(c.validTo) < new Date() ? '  (EXPIRED)' : ''}`,
    `  ${''.padEnd(9)} serial   ${c.serialNumber}`,
    `  ${''.padEnd(9)} SHA-256  ${c.fingerprint256}`,
  ];
  const alt = readJpkiAltNames(new Uint8Array(c.raw));
  if (alt.size) lines.push(`  ${''.padEnd(9)} SAN      ${[...alt].map(([oid, v]) => `${oid.split('.').slice(-1)[0]}=${v}`).join(', ')}`);
  return lines;
}

function describeProfile(path: string, p: Profile): string {
  const era = toEra(p.holder.birthDate);
  const max = p.behaviour.maxTries;
  const defaults = Behaviour.parse({}) as Record<string, unknown>;
  const changed = Object.entries(p.behaviour).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(defaults[k]));
  const row = (k: string, v: string) => `  ${k.padEnd(14)}${v}`;
  return [
    `${path}: myna-hil card profile v${p.version}, variant ${p.variant}`,
    row('created', p.createdAt),
    ...(p.comment ? [row('comment', p.comment)] : []),
    'Holder',
    row('name', p.holder.name),
    ...(p.holder.nameAlt ? [row('name alt', p.holder.nameAlt)] : []),
    row('address', p.holder.address),
    ...(p.holder.addressAlt ? [row('address alt', p.holder.addressAlt)] : []),
    row('birth date', `${p.holder.birthDate}${era ? ` (${era.era.name}${era.year})` : ''}`),
    row('sex', `${p.holder.sex} (${SEX[p.holder.sex]})`),
    row('My Number', p.holder.myNumber),
    'Card',
    row('serial', p.card.serial),
    row('municipality', p.card.municipalityCode),
    row('expiry', p.card.expiry + (p.card.expiry < new Date().toISOString().slice(0, 10) ? '  (EXPIRED)' : '')),
    row('security code', p.card.securityCode),
    row('ATR', p.card.atr.replace(/(..)(?=.)/g, '$1 ')),
    row('token label', p.card.tokenLabel),
    row('token serial', p.card.tokenSerial),
    'Certificates (JPKI AP)',
    ...certLines('auth', p.certificates.auth),
    ...certLines('sign', p.certificates.sign),
    ...certLines('auth CA', p.certificates.authCa),
    ...certLines('sign CA', p.certificates.signCa),
    'PINs (values not shown)',
    ...PinKind.options.map((k) => {
      const left = p.pins[k].remaining ?? max[k];
      return row(k, `${PIN_NAMES[k]}: ${left}/${max[k]} tries${left === 0 ? '  (LOCKED)' : ''}`);
    }),
    row('verify keys', `照合番号A, 照合番号B, birth-date key: ${max.verificationKeys} tries each`),
    'Keys (private parts not shown)',
    row('on the card', `auth${p.keys.sign ? ', sign' : ''}, textAp, faceAp, common`),
    row('issuer', `CVC root key ID ${keyIdText(p.issuer.rootKeyId)}, issuer key ID ${keyIdText(p.issuer.keyId)}`),
    'Behaviour',
    ...(changed.length ? changed.map(([k, v]) => row(k, JSON.stringify(v))) : [row('', 'spec defaults')]),
  ].join('\n');
}

interface ShowArgs {
  file: string;
  json: boolean;
}

const showCommand: CommandModule<object, ShowArgs> = {
  command: 'show <file>',
  describe: 'Print a card profile without its PIN values and private keys',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'Profile file made by `card new`' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the profile as JSON (PIN values and private keys redacted)' })
      .example('$0 card show card.json', 'holder, variant, certificates, PIN tries')
      .example('$0 card show card.json --json', 'the redacted profile as JSON') as unknown as Argv<ShowArgs>,
  handler: (args) => {
    const profile = loadProfile(args.file);
    process.stdout.write(args.json ? `${JSON.stringify(redactProfile(profile), null, 2)}\n` : `${describeProfile(args.file, profile)}\n`);
  },
};

// ---------------------------------------------------------------------------------------------

interface LearnArgs {
  reader: string;
  out: string;
  base?: string;
  force: boolean;
  timeout: number;
}

/** The probe table: probe, command, answer, option set (never a PIN: no probe carries one). */
function probeTable(probes: Learned['probes']): string {
  const reads = probes.filter((p) => p.probe.startsWith('READ BINARY ') && !p.option && !p.probe.includes('past the end'));
  const rows = probes.filter((p) => !reads.includes(p)).map((p) => [p.probe, p.command, p.answer, p.option ?? '']);
  const header = ['probe', 'command', 'answer', 'option set'];
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => r[i].length))));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line), `(and ${reads.length} READ BINARY chunks of the EFs read whole)`].join('\n');
}

const learnCommand: CommandModule<object, LearnArgs> = {
  command: 'learn',
  describe: "Read a physical card without a PIN and write a profile with its public parts and behaviour (keys are new: the card's stay on it)",
  builder: (y: Argv) =>
    y
      .option('reader', { type: 'string', demandOption: true, requiresArg: true, describe: 'A regular expression matching exactly one PC/SC reader name' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, requiresArg: true, describe: 'Profile file to write (mode 0600)' })
      .option('base', {
        type: 'string',
        requiresArg: true,
        describe: 'Profile the parts a card does not show come from: keys, holder data, issuer, PIN values [default: a new card, as `card new`]',
      })
      .option('force', { type: 'boolean', default: false, describe: 'Overwrite --out if it exists' })
      .option('timeout', { type: 'number', default: 10_000, describe: 'Milliseconds to wait for the reader and the card' })
      .example("$0 card learn --reader 'SONY' --out lab-card.json", 'learn the card in the one reader whose name contains SONY')
      .example("$0 card learn --reader 'Virtual PCD 00 01' --out lab-card.json --base card.json --force", 'over a profile of your own, replacing lab-card.json')
      .epilog(
        'Sends only SELECT, READ BINARY, READ RECORD, GET DATA and the empty VERIFY (tries left, costs no try): never a PIN, a change ' +
          "or a signature (docs/card-learn.md lists every probe). The learned profile holds the card's certificates with NEW keys, so " +
          "its signatures do not verify with them; its PIN values are placeholders (the base profile's; `card new` defaults without --base). " +
          'Exit codes: 2 bad input (--out exists without --force, a bad regex or base), 3 no such reader, two readers or no card.',
      ) as unknown as Argv<LearnArgs>,
  handler: async (args) => {
    checkOut(args.out, args.force);
    const base = args.base !== undefined ? loadProfile(args.base) : undefined; // a bad base fails before the card is touched
    const { learnFromReader } = await import('../../learn/pcsc.ts');
    const { learnedProfile } = await import('../../learn/profile.ts');
    const { TargetEnvironmentError } = await import('../../targets/lab.ts');
    const { NotAMynaCard } = await import('../../learn/read.ts');
    let result: Awaited<ReturnType<typeof learnFromReader>>;
    try {
      result = await learnFromReader({ reader: args.reader, timeoutMs: args.timeout });
    } catch (err) {
      // 3: the environment (reader, card presence); 1: a card that is not a readable My Number Card
      if (!(err instanceof TargetEnvironmentError || err instanceof NotAMynaCard)) throw err;
      console.error(`myna-hil: ${err instanceof NotAMynaCard ? 'card learn: ' : ''}${err.message}`);
      process.exitCode = err instanceof TargetEnvironmentError ? err.exitCode : 1;
      return;
    }
    const profile = learnedProfile(result.learned, base ?? (await generateProfile()), {
      reader: result.reader,
      at: new Date(),
      baseSource: args.base ?? 'the generated base',
    });
    try {
      saveProfile(args.out, profile, { exclusive: !args.force });
    } catch (e) {
      if (e instanceof InputError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new InputError(`${args.out}: the file appeared while the card was read; refusing to overwrite it (fix: add --force, or choose another --out)`);
      }
      throw new InputError(`${args.out}: cannot write the profile: ${(e as Error).message} (fix: give a writable file path as --out)`);
    }
    const pins = Object.entries(result.learned.remaining).map(([k, v]) => `${k} ${v}`);
    process.stdout.write(
      `${probeTable(profile.learned!.probes)}\n\n` +
        `${args.out}: learned from "${result.reader}": ATR ${profile.card.atr}, token ${profile.card.tokenLabel} ${profile.card.tokenSerial}, ` +
        `card serial ${profile.card.serial}, ${profile.certificates.sign ? 'with' : 'without'} a sign certificate; tries left: ${pins.join(', ')}\n` +
        `Keys are new (signatures of the simulated card do not verify with the learned certificates); holder data, issuer and PIN values ` +
        `are placeholders from ${args.base ?? 'a new card (the `card new` defaults)'}.\n` +
        (result.learned.notes.length ? `Notes:\n${result.learned.notes.map((n) => `  - ${n}`).join('\n')}\n` : ''),
    );
  },
};

const card: CommandModule = {
  command: 'card <command>',
  describe: 'Make, inspect and learn (from a physical card) virtual card profiles',
  builder: (y) =>
    y
      .command(newCommand as CommandModule)
      .command(showCommand as CommandModule)
      .command(learnCommand as CommandModule)
      .demandCommand(1, 'Name a card command: new, show or learn.')
      .example('$0 card new --out card.json', 'make a card (card new --help lists holder, PIN and variant options)')
      .example('$0 card show card.json', 'look at it without its secrets')
      .example("$0 card learn --reader 'SONY' --out lab-card.json", 'a profile from a physical card, read without a PIN'),
  handler: () => {},
};

export default card;
