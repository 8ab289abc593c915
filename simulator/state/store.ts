/**
 * The card's persistent state: PIN values, retry counters (and thereby lock states) of every key
 * reference. Profiles say what a card *is*; the state says what has happened to it since.
 *
 * A state file is a versioned JSON document written atomically (fs/atomic.ts) after every change,
 * by one process at a time (state/lock.ts).
 */
import { dirname } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.ts';
import type { PinId, PinState } from '../pin/pin.ts';
import { removeTempFiles, writeFileAtomic } from '../fs/atomic.ts';
import { jsonSyntaxReason, NotRegularFileError, readRegularFile } from '../fs/files.ts';
import { FileLock, LockHeldError } from './lock.ts';

export const STATE_FORMAT = 'myna-hil/card-state';
export const STATE_VERSION = 1;

export interface CardStateDoc {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  /** Fingerprint of the profile this state belongs to. */
  card: string;
  updatedAt: string;
  pins: Partial<Record<PinId, PinState>>;
}

const PIN_IDS = ['sign', 'auth', 'juki', 'kenmen', 'common', 'textA', 'textB', 'textBlocked', 'faceBirth', 'faceB', 'faceA'] as const;

const pinStateSchema = z.object({ value: z.string(), remaining: z.number().int().min(0).max(15) }).strict();
const stateSchema = z
  .object({
    format: z.literal(STATE_FORMAT),
    version: z.literal(STATE_VERSION),
    card: z.string().min(1),
    updatedAt: z.string(),
    pins: z.partialRecord(z.enum(PIN_IDS), pinStateSchema),
  })
  .strict();

export interface StateStore {
  /** The stored state, or undefined when none exists yet. */
  load(): CardStateDoc | undefined;
  save(doc: CardStateDoc): void;
  /** Where it lives, for messages. */
  readonly location: string;
  /** Lets go of the underlying file (its lock); the store is not used afterwards. */
  close?(): void;
}

/** Keeps the state in memory only (tests, benchmarks, throw-away cards). */
export class MemoryStore implements StateStore {
  readonly location = '(memory)';
  saves = 0;
  private doc: CardStateDoc | undefined;
  constructor(initial?: CardStateDoc) {
    this.doc = initial && structuredClone(initial);
  }
  load(): CardStateDoc | undefined {
    return this.doc && structuredClone(this.doc);
  }
  save(doc: CardStateDoc): void {
    this.saves++;
    this.doc = structuredClone(doc);
  }
}

/** Parses and validates a state document; errors name the file and the field. */
export function parseState(text: string, source: string): CardStateDoc {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${source}: not valid JSON (${jsonSyntaxReason(err)}); fix the file or delete it to start from the profile's initial state`);
  }
  if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    if (o.format !== STATE_FORMAT) {
      throw new InputError(`${source}: field format: expected "${STATE_FORMAT}", found ${JSON.stringify(o.format)}; this is not a myna-hil state file`);
    }
    if (typeof o.version === 'number' && o.version > STATE_VERSION) {
      throw new InputError(
        `${source}: field version: ${o.version} was written by a newer myna-hil (this one reads version ${STATE_VERSION}); upgrade myna-hil`,
      );
    }
    if (typeof o.version === 'number' && o.version < STATE_VERSION) {
      throw new InputError(
        `${source}: field version: ${o.version} is older than any myna-hil release (${STATE_VERSION}); delete the state file to start from the profile`,
      );
    }
  }
  const r = stateSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new InputError(`${source}: field ${path}: ${issue.message}; fix the field or delete the state file to start from the profile`);
  }
  return r.data as CardStateDoc;
}

/**
 * A state file on disk, rewritten atomically on every save. The store holds the file's lock from
 * construction to close() (or process exit): a second store on the same file, in this process or
 * another, is refused with an InputError naming the holder.
 */
export class FileStore implements StateStore {
  private readonly lock: FileLock;
  private closed = false;

  constructor(readonly location: string) {
    this.lock = lockStateFile(location);
  }

  load(): CardStateDoc | undefined {
    // Ours alone now: temporary files beside it are a crashed writer's, and hold PIN values.
    removeTempFiles(this.location);
    let text: string;
    try {
      text = readRegularFile(this.location);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      const why = err instanceof NotRegularFileError ? `it is ${err.kind}` : (err as Error).message;
      throw new InputError(`${this.location}: cannot read the state file: ${why} (fix: give the path of a state file, or of one to create)`);
    }
    return parseState(text, this.location);
  }

  save(doc: CardStateDoc): void {
    // Without the lock another process may hold the file now: writing would undo its changes.
    if (this.closed) throw new Error(`${this.location}: the state store is closed; the change is not saved`);
    writeFileAtomic(this.location, `${JSON.stringify(doc, null, 2)}\n`);
  }

  close(): void {
    this.closed = true;
    this.lock.release();
  }
}

/** Takes the lock of a state file, or says in the user's terms why it cannot be used. */
function lockStateFile(path: string): FileLock {
  try {
    return FileLock.acquire(path);
  } catch (err) {
    if (err instanceof LockHeldError) {
      const who =
        err.pid === undefined ? 'a lock file this program cannot read' : err.pid === process.pid ? `this process (pid ${err.pid})` : `process ${err.pid}`;
      throw new InputError(
        `${path}: the state file is in use by ${who} (lock file ${err.lockPath}); two users of one state file would undo each other's retry counts ` +
          `(fix: stop that process, or reach a served card with \`myna-hil issuer --control\`, or use another --state file` +
          `${err.pid === undefined ? `; delete ${err.lockPath} if no myna-hil uses this state file` : ''})`,
      );
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new InputError(
        `${path}: cannot create the state file: the directory ${dirname(path)} does not exist (fix: create it, e.g. mkdir -p '${dirname(path)}', or give another --state path)`,
      );
    }
    throw new InputError(`${path}: cannot use the state file: ${(err as Error).message} (fix: make its directory writable, or give another --state path)`);
  }
}
