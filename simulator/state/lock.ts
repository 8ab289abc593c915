/**
 * An exclusive lock on a file for as long as a process holds it, so that two processes never load
 * the same state file, each spend tries in its own copy and the last save refunds the other's.
 *
 * Node has no flock(), so the lock is a file beside the target, `<target>.lock`, that exists only
 * while held: it is created complete (written under a temporary name, then hard-linked into place,
 * which fails atomically when the name is taken) and holds the holder's pid, the start time of that
 * process (to tell a dead holder from a new process that got its pid) and a random token (so that
 * only the holder removes it). It is released on release() and at process exit; a lock whose holder
 * died without either (SIGKILL, power loss) is stale and taken over by the next process.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';

interface Holder {
  pid: number;
  /** Start time of the process (/proc/<pid>/stat field 22), where the system tells it. */
  start?: string;
  token: string;
}

/** Why a lock could not be taken. */
export class LockHeldError extends Error {
  constructor(
    readonly lockPath: string,
    /** The holder's pid, or undefined when the lock file cannot be read as one of ours. */
    readonly pid: number | undefined,
  ) {
    super(pid === undefined ? `${lockPath}: not a lock file of this program` : `${lockPath}: held by process ${pid}`);
    this.name = 'LockHeldError';
  }
}

/** Start time of process `pid` in clock ticks since boot (Linux), or undefined. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Locks this process holds, released at exit; also tells our own locks from a dead namesake's. */
const held = new Set<FileLock>();
let exitHook = false;

function isAlive(h: Holder): boolean {
  if (h.pid === process.pid) return [...held].some((l) => l.token === h.token);
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: a process of another user has the pid, so it lives.
  }
  const start = processStart(h.pid);
  return !(h.start && start && h.start !== start);
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Holder;
    return Number.isInteger(h.pid) && h.pid > 0 && typeof h.token === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

function readQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes `text` to a new private file `path` (O_EXCL, O_NOFOLLOW, 0600). */
function createFile(path: string, text: string): void {
  const fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

export class FileLock {
  readonly path: string;
  readonly token = randomBytes(12).toString('hex');
  private readonly text: string;

  private constructor(target: string) {
    this.path = `${target}.lock`;
    const h: Holder = { pid: process.pid, start: processStart(process.pid), token: this.token };
    this.text = `${JSON.stringify(h)}\n`;
  }

  /**
   * Takes the lock on `target`, or throws LockHeldError (held by a live process, or not a lock file
   * of ours); errors of the file system (ENOENT for a missing directory, EACCES) are thrown as they are.
   */
  static acquire(target: string): FileLock {
    const lock = new FileLock(target);
    // A few rounds: each lost race (a holder releasing, another process taking over) is a new round.
    for (let round = 0; round < 5; round++) {
      if (lock.tryCreate()) {
        held.add(lock);
        if (!exitHook) {
          exitHook = true;
          process.on('exit', () => {
            for (const l of held) l.release();
          });
        }
        return lock;
      }
      const text = readQuietly(lock.path);
      if (text === undefined) continue; // released meanwhile
      const holder = parseHolder(text);
      if (!holder) throw new LockHeldError(lock.path, undefined);
      if (isAlive(holder)) throw new LockHeldError(lock.path, holder.pid);
      takeOver(lock.path, text);
    }
    throw new LockHeldError(lock.path, parseHolder(readQuietly(lock.path) ?? '')?.pid);
  }

  /** Creates the lock file complete: a reader never finds it empty. False when it exists. */
  private tryCreate(): boolean {
    const tmp = `${this.path}.${this.token}`;
    createFile(tmp, this.text);
    try {
      linkSync(tmp, this.path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      unlinkSync(tmp);
    }
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void {
    if (!held.delete(this)) return;
    try {
      if (readFileSync(this.path, 'utf8') === this.text) unlinkSync(this.path);
    } catch {
      /* gone already: nothing to release */
    }
  }
}

/**
 * Removes a stale lock file whose text was `seen`. It is first renamed aside, which only one of
 * several racing processes can do to the same file; if what was moved is not the stale lock (another
 * process took over in between), it is put back (link() never overwrites) and the caller retries.
 */
function takeOver(lockPath: string, seen: string): void {
  const aside = `${lockPath}.stale-${randomBytes(6).toString('hex')}`;
  try {
    renameSync(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it
    throw err;
  }
  try {
    if (readFileSync(aside, 'utf8') !== seen) linkSync(aside, lockPath);
  } catch {
    /* the name was taken again meanwhile: that holder's lock stands */
  } finally {
    unlinkSync(aside);
  }
}
