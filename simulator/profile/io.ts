/**
 * Reading and writing card profiles (JSON, schema ./schema.ts).
 *
 * Every failure to read one is an InputError naming the file, the place and the fix:
 *   `card.json:12:5: not valid JSON: … (fix: …)`
 *   `card.json: field holder.myNumber: My Number check digit is wrong (fix: …)`
 * Older profile versions go through MIGRATIONS (fromVersion → a function returning version + 1);
 * there are none yet, version 1 being the first.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { z } from 'zod';
import { InputError } from '../errors.ts';
import { type AtomicWriteOptions, writeFileAtomic } from '../fs/atomic.ts';
import { jsonSyntaxReason, NotRegularFileError, readRegularFile } from '../fs/files.ts';
import { myNumberCheckDigit, PROFILE_FORMAT, PROFILE_VERSION, ProfileV1, type Profile } from './schema.ts';

const REGENERATE = 'regenerate the card with `myna-hil card new`';

type Json = Record<string, unknown>;
/** Migrates a profile of version `from` to version `from + 1` (it must set `version`). */
export type Migration = (json: Json) => Json;

/** fromVersion → migration. Empty: version 1 is the first profile format. */
export const MIGRATIONS: ReadonlyMap<number, Migration> = new Map();

// ---------------------------------------------------------------------------------------------
// JSON syntax errors with line:column

/**
 * Offset of the first JSON syntax error in `s` (JSON.parse does not always say where: V8 answers
 * "Unexpected token '}', … is not valid JSON" without a position), or -1 if there is none.
 */
export function jsonErrorOffset(s: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  };
  const str = () => {
    i++; // opening quote
    while (i < s.length) {
      const c = s[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') fail();
      if (c !== '\\') i++;
      else if ('"\\/bfnrt'.includes(s[i + 1] ?? '')) i += 2;
      else if (s[i + 1] === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) i += 6;
      else fail();
    }
    fail();
  };
  const NUM = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (s[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          if (s[i] !== '"') fail();
          str();
          ws();
          if (s[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (s[i] === close) {
          i++;
          return;
        }
        if (s[i] !== ',') fail();
        i++;
      }
    }
    if (c === '"') {
      str();
      return;
    }
    NUM.lastIndex = i;
    if (NUM.test(s)) {
      i = NUM.lastIndex;
      return;
    }
    const lit = ['true', 'false', 'null'].find((l) => s.startsWith(l, i));
    if (!lit) fail();
    i += lit!.length;
  };
  try {
    value();
    ws();
    if (i < s.length) fail();
    return -1;
  } catch (e) {
    if (typeof e === 'number') return e;
    throw e;
  }
}

function lineColumn(s: string, offset: number): string {
  const before = s.slice(0, offset);
  const line = before.split('\n').length;
  return `${line}:${offset - before.lastIndexOf('\n')}`;
}

// ---------------------------------------------------------------------------------------------

/** `holder.myNumber`, `pins.sign.value`, `x[2]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('') || '(top level)';
}

function fixFor(issue: z.core.$ZodIssue, json: unknown): string {
  const path = fieldPath(issue.path);
  if (path === 'holder.myNumber') {
    const v = (json as { holder?: { myNumber?: unknown } }).holder?.myNumber;
    if (typeof v === 'string' && /^\d{12}$/.test(v)) return `the check digit after ${v.slice(0, 11)} is ${myNumberCheckDigit(v.slice(0, 11))}`;
  }
  return `correct the field, or ${REGENERATE}`;
}

function schemaError(source: string, error: z.ZodError, json: unknown): InputError {
  const lines = error.issues.slice(0, 8).map((i) => `${source}: field ${fieldPath(i.path)}: ${i.message} (fix: ${fixFor(i, json)})`);
  if (error.issues.length > 8) lines.push(`${source}: … and ${error.issues.length - 8} more problems`);
  return new InputError(lines.join('\n'));
}

/** Brings an older profile up to PROFILE_VERSION, or explains why it cannot be read. */
export function migrateProfileJson(json: Json, source: string, migrations: ReadonlyMap<number, Migration> = MIGRATIONS): Json {
  if (json.format !== PROFILE_FORMAT) {
    const seen = json.format === undefined ? 'has no "format" field' : `has format ${JSON.stringify(json.format)}`;
    throw new InputError(
      `${source}: field format: this is not a myna-hil card profile (it ${seen}; a profile has "format": "${PROFILE_FORMAT}") (fix: give a file made by \`myna-hil card new\`)`,
    );
  }
  const version = json.version;
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    const seen = version === undefined ? 'is missing' : `is ${JSON.stringify(version)}, not an integer`;
    throw new InputError(
      `${source}: field version: ${seen} (fix: set "version": ${PROFILE_VERSION} if the file is otherwise a current profile, or ${REGENERATE})`,
    );
  }
  let v: number = version;
  if (v > PROFILE_VERSION) {
    throw new InputError(
      `${source}: field version: profile version ${v} was made by a newer myna-hil; this one reads versions up to ${PROFILE_VERSION} (fix: upgrade myna-hil)`,
    );
  }
  while (v < PROFILE_VERSION) {
    const migrate = migrations.get(v);
    if (!migrate) {
      throw new InputError(
        `${source}: field version: profile version ${v} is older than any this myna-hil can migrate (it reads version ${PROFILE_VERSION}; no migration from version ${v}) (fix: ${REGENERATE})`,
      );
    }
    json = migrate(json);
    if (json.version !== v + 1) throw new Error(`migration from profile version ${v} did not produce version ${v + 1}`);
    v = json.version as number;
  }
  return json;
}

/** Parses and validates profile JSON text; `source` names it in error messages (usually the path). */
export function parseProfile(text: string, source: string, migrations: ReadonlyMap<number, Migration> = MIGRATIONS): Profile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const at = jsonErrorOffset(text);
    const where = at >= 0 ? `${source}:${lineColumn(text, at)}` : source;
    const why = jsonSyntaxReason(e); // V8 quotes the text around the error, and it can hold PIN values
    throw new InputError(`${where}: not valid JSON: ${why} (fix: correct the JSON there, or ${REGENERATE})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InputError(
      `${source}: this is not a myna-hil card profile (the file holds a JSON ${json === null ? 'null' : Array.isArray(json) ? 'array' : typeof json}, a profile is an object) (fix: give a file made by \`myna-hil card new\`)`,
    );
  }
  const migrated = migrateProfileJson(json as Json, source, migrations);
  const result = ProfileV1.safeParse(migrated);
  if (!result.success) throw schemaError(source, result.error, migrated);
  const p = result.data;
  if (!!p.keys.sign !== !!p.certificates.sign) {
    const [has, lacks] = p.keys.sign ? ['keys.sign', 'certificates.sign'] : ['certificates.sign', 'keys.sign'];
    throw new InputError(`${source}: field ${lacks}: missing while ${has} is present; a card has both or neither (fix: ${REGENERATE})`);
  }
  const keyProblem = certificateKeyProblem(p);
  if (keyProblem) throw new InputError(`${source}: ${keyProblem}`);
  const sigs: Array<[string, string]> = [
    ['issuer.cvcSignature', p.issuer.cvcSignature],
    ...Object.entries(p.issuer.signatures).map(([k, v]): [string, string] => [`issuer.signatures.${k}`, v]),
  ];
  for (const [field, v] of sigs) {
    if (v.length !== 512)
      throw new InputError(
        `${source}: field ${field}: must be an RSA-2048 signature, 256 bytes (512 hex digits), has ${v.length / 2} bytes (fix: ${REGENERATE})`,
      );
  }
  return p;
}

/**
 * The certificate whose public key is not the one of the profile's private key for it, or undefined.
 * Only a profile made by `card learn` (one with `learned`) may hold such certificates: it carries a
 * physical card's certificates, whose private keys never leave the card, with keys of its own
 * (docs/card-learn.md). Anywhere else a mismatch is a broken profile, whose signatures no client could
 * verify. A key or certificate that does not parse is left to the card builder, which names it.
 */
export function certificateKeyProblem(p: Profile): string | undefined {
  if (p.learned) return undefined;
  for (const k of ['auth', 'sign'] as const) {
    const [keyPem, certPem] = [p.keys[k], p.certificates[k]];
    if (!keyPem || !certPem) continue;
    let same: boolean;
    try {
      same = createPublicKey(createPrivateKey(keyPem)).equals(new X509Certificate(certPem).publicKey);
    } catch {
      continue;
    }
    if (!same) {
      return (
        `field certificates.${k}: its public key is not the one of keys.${k}, so no signature of this card would verify with it ` +
        `(only a profile made by \`myna-hil card learn\`, which says so in its "learned" field, may hold such a certificate) (fix: ${REGENERATE})`
      );
    }
  }
  return undefined;
}

/** Reads and validates a profile file. */
export function loadProfile(path: string): Profile {
  let text: string;
  try {
    text = readRegularFile(path); // a FIFO or a device would hang the read
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = e instanceof NotRegularFileError ? `it is ${e.kind}` : code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new InputError(`${path}: cannot read the card profile: ${why} (fix: give the path of a file made by \`myna-hil card new\`)`);
  }
  return parseProfile(text.replace(/^\uFEFF/, ''), path);
}

/**
 * Writes a profile atomically (temporary file in the same directory, fsync, rename, fsync of the
 * directory; mode 0600, as it holds PIN values and private keys). The profile is validated first,
 * so a file that cannot be loaded back is never written. `exclusive`: never replace an existing file.
 */
export function saveProfile(path: string, profile: Profile, options: AtomicWriteOptions = {}): void {
  const result = ProfileV1.safeParse(profile);
  if (!result.success) throw schemaError(path, result.error, profile);
  writeFileAtomic(path, `${JSON.stringify(result.data, null, 2)}\n`, options);
}

/** Bytes of the DER inside a PEM. */
const pemBytes = (pem: string): number => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64').length;

/**
 * A copy for display and logs: PIN values become "<redacted>", private keys
 * "<private key, N bytes>". The result is no longer a loadable profile.
 */
export function redactProfile(profile: Profile): Profile {
  const p = structuredClone(profile);
  for (const pin of Object.values(p.pins)) pin.value = '<redacted>';
  const keys = p.keys as Record<string, string | undefined>;
  for (const [k, v] of Object.entries(keys)) if (v !== undefined) keys[k] = `<private key, ${pemBytes(v)} bytes>`;
  p.issuer.key = `<private key, ${pemBytes(p.issuer.key)} bytes>`;
  return p;
}
