/**
 * What the physical-card targets share (`pcsc`, the relay and its `relay` target): the reader chosen by
 * a regular expression, the lab's allow-list of test cards (SHA-256 of the JPKI auth certificate), the
 * lab's PIN values (environment or a local file) and the errors with their exit codes.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toHex } from '../../simulator/apdu/codec.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { InputError } from '../../simulator/errors.ts';
import { userPinValueProblem } from '../../simulator/pin/rules.ts';
import { AID, EF, sha256 } from '../flows/card-ref.ts';
import { FlowSession } from '../flows/spec-flows.ts';
import type { PinKind } from '../scenario/model.ts';
import type { PcscContext } from '../pcsc/index.ts';
import { GUARD_EXIT_CODE } from './guard.ts';

/** The environment cannot run the target (no pcscd, no such reader, no card): exit code 3. */
export class TargetEnvironmentError extends Error {
  readonly exitCode = 3;
  constructor(message: string) {
    super(message);
    this.name = 'TargetEnvironmentError';
  }
}

/** The card in the reader is not one the lab allowed: exit code 4, before any scenario runs. */
export class CardNotAllowed extends Error {
  readonly exitCode = GUARD_EXIT_CODE;
  constructor(
    message: string,
    /** SHA-256 of the card's auth certificate (hex), when it could be read. */
    readonly sha256?: string,
  ) {
    super(message);
    this.name = 'CardNotAllowed';
  }
}

const REQUIRED_PINS: readonly PinKind[] = ['auth', 'sign', 'juki', 'kenmen'];
const envName = (pin: PinKind) => `MYNA_HIL_PIN_${pin.toUpperCase()}`;
const SHA256_RE = /^[0-9a-f]{64}$/;

/** The one reader of `readers` the regex matches, or the message saying why not (none, several). */
function matchOneReader(readers: readonly string[], re: RegExp, source: string): { reader: string } | { error: string } {
  const matching = readers.filter((r) => re.test(r));
  if (matching.length === 1) return { reader: matching[0] };
  const found = matching.length === 0 ? 'matches no reader' : `matches ${matching.length} readers (${matching.map((r) => `"${r}"`).join(', ')})`;
  const all = readers.length ? readers.map((r) => `"${r}"`).join(', ') : 'none';
  return { error: `--reader /${source}/ ${found}; it must match exactly one (readers: ${all})` };
}

/**
 * The one reader `re` matches among pcscd's readers (`exclude` left out: a relay's own virtual reader),
 * or a {@link TargetEnvironmentError} (exit 3) naming the readers there are.
 */
export async function pickReader(ctx: PcscContext, re: RegExp, source: string, timeoutMs: number, exclude?: string): Promise<string> {
  const readers = await ctx.listReaders({ timeoutMs });
  // every reader's status thread running before anything can fail: a context closed while one is
  // still starting can miss its cancellation, and the thread then keeps the process alive
  for (const r of readers) await ctx.waitForReader(r, { timeoutMs });
  const match = matchOneReader(
    readers.filter((r) => r !== exclude),
    re,
    source,
  );
  if ('error' in match) throw new TargetEnvironmentError(match.error);
  return match.reader;
}

/**
 * Reads the card's auth certificate (JPKI EF 000A, no PIN needed, docs/card.md §3.1) and returns its
 * SHA-256; throws {@link CardNotAllowed} when it cannot be read or the lab did not allow it.
 */
export async function checkCardAllowed(channel: ApduChannel, allowed: ReadonlySet<string>, reader: string | undefined): Promise<string> {
  const session = new FlowSession(channel);
  let der: Uint8Array;
  try {
    await session.selectAp(AID.jpki);
    await session.selectEf(EF.jpki.authCert);
    der = await session.readCertificate();
    new X509Certificate(der); // a card that answers garbage is not identified by its hash
  } catch (err) {
    const failed = session.checks.filter((c) => !c.ok).map((c) => `${c.what} (${c.detail ?? ''})`);
    throw new CardNotAllowed(`card not allowed: its auth certificate (JPKI EF 000A) cannot be read: ${failed.join('; ') || (err as Error).message}`);
  }
  const hash = toHex(sha256(der)).toLowerCase();
  if (!allowed.has(hash)) {
    throw new CardNotAllowed(
      `card not allowed: the auth certificate of the card in "${reader}" has SHA-256 ${hash}, which is not in the allow-list ` +
        '(if it is a test card of this lab, add it with --allow-card <sha256> or to the allow-list file)',
      hash,
    );
  }
  return hash;
}

export function readerRegex(source: string): RegExp {
  try {
    return new RegExp(source);
  } catch (err) {
    throw new InputError(
      `--reader ${source}: not a regular expression (${(err as Error).message}); fix: give a JavaScript regular expression matching one reader name`,
    );
  }
}

function readText(option: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${option} ${path}: cannot read it: ${code === 'ENOENT' ? 'no such file' : (err as Error).message} (fix: give a readable file)`);
  }
}

export function allowList(values: string[], file: string | undefined): ReadonlySet<string> {
  const out = new Set<string>();
  const add = (raw: string, where: string) => {
    const v = raw.trim().toLowerCase();
    if (!SHA256_RE.test(v))
      throw new InputError(`${where}: "${raw.trim()}" is not a SHA-256 (fix: 64 hex digits, the SHA-256 of the card's auth certificate DER)`);
    out.add(v);
  };
  for (const v of values) add(v, '--allow-card');
  if (file !== undefined) {
    readText('--allow-cards-file', file)
      .split('\n')
      .forEach((line, i) => {
        const v = line.replace(/#.*/, '').trim();
        if (v) add(v, `${file}:${i + 1}`);
      });
  }
  return out;
}

/**
 * The lab's PIN values: the file's over the environment's; each checked against its format. `needer`
 * (e.g. "the pcsc target") must have the four user PINs; without one (the relay) every value is optional.
 */
export function labPins(env: Record<string, string | undefined>, file: string | undefined, needer?: string): Partial<Record<PinKind, string>> {
  const found = new Map<PinKind, { value: string; source: string }>();
  for (const pin of [...REQUIRED_PINS, 'common'] as PinKind[]) {
    const v = env[envName(pin)];
    if (v !== undefined && v !== '') found.set(pin, { value: v, source: `the environment variable ${envName(pin)}` });
  }
  if (file !== undefined) for (const [pin, entry] of readPinsFile(file)) found.set(pin, entry);
  const missing = needer ? REQUIRED_PINS.filter((p) => !found.has(p)) : [];
  if (missing.length) {
    throw new InputError(
      `${needer} needs the lab's value of each PIN of the card; missing: ${missing.join(', ')} ` +
        `(fix: set ${missing.map(envName).join(', ')}, or give --pins <file> with ${missing.map((p) => `${p}=…`).join(', ')})`,
    );
  }
  // 共通カードAP 001C is usually set to the 住基 value (docs/card.md §3.5, §4.3)
  const juki = found.get('juki');
  if (!found.has('common') && juki) found.set('common', { ...juki, source: `${juki.source} (juki, for common)` });
  for (const [pin, { value, source }] of found) {
    const problem = userPinValueProblem(pin, value);
    if (problem) throw new InputError(`${source}: ${problem} (fix: give the card's value of the ${pin} PIN)`);
  }
  return Object.fromEntries([...found].map(([pin, e]) => [pin, e.value]));
}

const PIN_KEY_RE = /^(?:MYNA_HIL_PIN_)?(AUTH|SIGN|JUKI|KENMEN|COMMON)$/i;

/** `{"auth": "…"}` or `auth=…` / `MYNA_HIL_PIN_AUTH=…` lines (`#` comments). Messages never show a value. */
function readPinsFile(file: string): Map<PinKind, { value: string; source: string }> {
  const text = readText('--pins', file);
  const out = new Map<PinKind, { value: string; source: string }>();
  const put = (key: string, value: unknown, where: string) => {
    const m = PIN_KEY_RE.exec(key.trim());
    if (!m) throw new InputError(`${where}: unknown key "${key.trim()}" (fix: one of auth, sign, juki, kenmen, common, or MYNA_HIL_PIN_AUTH …)`);
    if (typeof value !== 'string') throw new InputError(`${where}: the value of ${key.trim()} must be a string (fix: quote it, "0123")`);
    out.set(m[1].toLowerCase() as PinKind, { value, source: where });
  };
  if (text.trimStart().startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      // the parser's message quotes the text around the error, which may be a PIN: only its position
      const at = /position (\d+)/.exec((err as Error).message);
      throw new InputError(`${file}: not valid JSON${at ? ` (at character ${at[1]})` : ''}; fix: {"auth": "…", "sign": "…"} or KEY=VALUE lines`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(`${file}: expected a JSON object of PIN values`);
    for (const [k, v] of Object.entries(json)) put(k, v, `${file} field ${k}`);
    return out;
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq < 0) throw new InputError(`${file}:${i + 1}: expected KEY=VALUE (fix: auth=…, one PIN a line)`);
    // a value may be quoted as in a .env file; PIN values never contain blanks or quotes
    put(
      line.slice(0, eq),
      line
        .slice(eq + 1)
        .trim()
        .replace(/^(["'])(.*)\1$/, '$2'),
      `${file}:${i + 1}`,
    );
  });
  return out;
}
