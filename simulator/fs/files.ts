/**
 * Reading the user's files (profiles, state files) without hanging and without leaking them.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';

/** What a file that is not a regular file is, for messages. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Thrown by readRegularFile for anything but a regular file; `kind` says what it is. */
export class NotRegularFileError extends Error {
  constructor(
    readonly path: string,
    readonly kind: string,
  ) {
    super(`${path}: is ${kind}, not a regular file`);
    this.name = 'NotRegularFileError';
  }
}

/**
 * Reads a regular file as UTF-8. Anything else is refused before a byte is read: opening a FIFO
 * blocks until some writer appears and reading a device may never end. O_NONBLOCK makes the open
 * itself return at once (it changes nothing for a regular file); fstat then checks the very file
 * opened, so a swap between a check and the open is impossible. Errors of open (ENOENT, EACCES…)
 * are thrown as they are.
 */
export function readRegularFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(path, kindOf(st));
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The reason of a JSON.parse error without the text it quotes, which can hold PIN values. V8 writes
 * `Unexpected token 'x', "{"value":x"1234"}" is not valid JSON`, with `...` where it cut the text
 * at either end (`..."value":x"1234","r"... is not valid JSON`); only the token is kept. The
 * position goes too: callers that know the line and column say so themselves.
 */
export function jsonSyntaxReason(err: unknown): string {
  const why = String((err as Error)?.message ?? err)
    .replace(/^(Unexpected token '[\s\S]{1,2}?')?(?:, )?(?:\.\.\.)?"[\s\S]*is not valid JSON$/u, '$1')
    .replace(/(?: in JSON)? at position \d+[\s\S]*$/, '');
  return why || 'not JSON text';
}
