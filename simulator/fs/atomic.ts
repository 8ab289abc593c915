/**
 * Atomic file replacement: write a temporary file in the same directory, fsync it, rename it over
 * the target, fsync the directory. A reader sees the old file or the new one, never half of one.
 *
 * The temporary file holds the same secrets as the target (PIN values, private keys), so it is
 * created the way a private file must be: a random name, O_EXCL (never an existing file, never one
 * planted in advance), O_NOFOLLOW (never through a symlink), mode 0600. A writer killed before the
 * rename leaves it behind; removeTempFiles() cleans up after it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fsyncSync, linkSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const TEMP_FLAGS = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW;

/** `.<name>.tmp-` : the prefix of every temporary file of `path`. */
const tempPrefix = (path: string): string => `.${basename(path)}.tmp-`;

export interface AtomicWriteOptions {
  /**
   * Refuse to replace an existing target (the error has code EEXIST and the target is untouched):
   * the new file is linked into place, which fails atomically when the name is taken.
   */
  exclusive?: boolean;
  /** Mode of the file, exactly (the umask does not apply). Default 0600: most files written here hold secrets. */
  mode?: number;
}

export function writeFileAtomic(path: string, contents: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  const tmp = join(dir, tempPrefix(path) + randomBytes(8).toString('hex'));
  const buf = typeof contents === 'string' ? Buffer.from(contents, 'utf8') : contents;
  let fd = -1;
  let placed = false;
  try {
    const mode = options.mode ?? 0o600;
    fd = openSync(tmp, TEMP_FLAGS, mode);
    if (mode !== 0o600) fchmodSync(fd, mode); // past the umask, and only once the file is ours (O_EXCL)
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    if (options.exclusive) linkSync(tmp, path);
    else renameSync(tmp, path);
    placed = !options.exclusive;
  } finally {
    if (fd >= 0) closeSync(fd);
    // After a failure, or after link() (which leaves the temporary name as a second link).
    if (!placed) removeQuietly(tmp);
  }
  fsyncDir(dir);
}

/**
 * Removes the temporary files a crashed writeFileAtomic left beside `path`. Call it only while no
 * other process can be writing `path` (the state file's lock, ./lock.ts). Returns the names removed.
 */
export function removeTempFiles(path: string): string[] {
  const dir = dirname(path);
  const prefix = tempPrefix(path);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch {
    return []; // no directory: nothing left behind
  }
  for (const n of names) removeQuietly(join(dir, n));
  return names;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/** Makes a rename or link in `dir` durable. */
function fsyncDir(dir: string): void {
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some file systems refuse fsync on directories; the rename is still atomic */
  }
}
