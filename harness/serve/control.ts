/**
 * The control channel of `myna-hil serve`: a tiny HTTP API on a Unix domain socket that only the user
 * running serve can use (nothing listens on the network). The socket file is born mode 0600 (bound
 * under umask 177, never chmod-ed afterwards, so no other user can connect even for a moment); the
 * default path is in a private directory of mode 0700 (serve.ts defaultControlPath):
 * `$XDG_RUNTIME_DIR/myna-hil/serve-slot<N>.sock`, or `<tmpdir>/myna-hil-<uid>/serve-slot<N>.sock`.
 * Any HTTP client that speaks to Unix sockets works, e.g. curl:
 *
 *   SOCK=$XDG_RUNTIME_DIR/myna-hil/serve-slot0.sock     (serve prints its path at start)
 *   curl -s --unix-socket $SOCK -X POST http://serve/remove
 *   curl -s --unix-socket $SOCK -X POST http://serve/insert
 *   curl -s --unix-socket $SOCK -X POST http://serve/reset
 *   curl -s --unix-socket $SOCK http://serve/status
 *
 * and the issuer's out-of-band operations on the served card (the municipal counter; JSON bodies of
 * at most 4096 bytes; PIN values are never logged or echoed):
 *
 *   … -X POST http://serve/issuer/reset-counter -d '{"pin":"auth"}'
 *   … -X POST http://serve/issuer/set-pin -d '{"pin":"sign","value":"NEW1PASS"}'
 *   … -X POST http://serve/reinit-sign-password -d '{"value":"NEW1PASS"}'   (needs the auth PIN
 *     verified by a client in the current card session, as at a kiosk)
 *
 * Every answer is one JSON object: `{"ok":true,"command":"remove","status":{...}}`, or
 * `{"ok":false,"error":"..."}` with status 400 (body not a JSON object) / 404 (unknown command) /
 * 405 (wrong method) / 409 (issuer operation refused) / 413 (body over 4096 bytes) / 500.
 */
import { existsSync, lstatSync, mkdirSync, type Stats, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname } from 'node:path';
import { InputError } from '../../simulator/errors.ts';

export const CONTROL_COMMANDS = ['remove', 'insert', 'reset', 'status', 'issuer/reset-counter', 'issuer/set-pin', 'reinit-sign-password'] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];
export type IssuerCommand = Extract<ControlCommand, `issuer/${string}` | 'reinit-sign-password'>;

/** Body of the issuer commands. */
export interface IssuerRequest {
  pin?: string;
  value?: string;
}

export interface ControlHandlers {
  remove(): Promise<void>;
  insert(): Promise<void>;
  /** Returns a fault message when the card's reset threw. */
  reset(): string | undefined;
  status(): unknown;
  /** Issuer operations; throws with a message for the reply when refused. */
  issuer(command: IssuerCommand, request: IssuerRequest): void;
}

const MAX_BODY = 4096;

/**
 * The request body as text, or `undefined` when it is over MAX_BODY bytes. Past the limit the rest
 * is read and dropped rather than the connection cut, so the client gets its 413 answer.
 */
function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
      else resolve(undefined); // answer now (later calls are no-ops); the flowing stream drops the rest
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The issuer request in a body, or why it is not one. The reason never quotes the body: JSON.parse's
 * message does (`"…" is not valid JSON`), and the body holds a PIN value.
 */
function parseIssuerRequest(body: string): IssuerRequest | string {
  if (!body.trim()) return {};
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    return 'not valid JSON';
  }
  return typeof request === 'object' && request !== null && !Array.isArray(request) ? (request as IssuerRequest) : 'not an object';
}

export interface ControlReply {
  ok: boolean;
  command?: ControlCommand;
  status?: unknown;
  error?: string;
}

/** The fix for every control socket that cannot be claimed: the user's two ways out. */
const FIX = 'stop the other `myna-hil serve`, or give this one its own socket with --control <path>';

function inUse(path: string): InputError {
  return new InputError(`control socket ${path} is in use (another \`myna-hil serve\` for this slot?): ${FIX}`);
}

/** Throws when the path is held by a live server; removes a stale socket file; refuses other files. */
async function clearStaleSocket(path: string): Promise<void> {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return; // does not exist
  }
  if (!st.isSocket()) throw new InputError(`control socket path ${path} exists and is not a socket: remove it, or choose another path with --control <path>`);
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    // ECONNREFUSED: nobody listens (stale). Anything else (EACCES: another user's) is not ours to remove.
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED'));
  });
  if (live) throw inUse(path);
  try {
    unlinkSync(path);
  } catch (err) {
    throw new InputError(
      `control socket ${path} is left over from an earlier serve and cannot be removed (${(err as Error).message}): remove it, or choose another path with --control <path>`,
    );
  }
}

/**
 * Binds the server to the socket path under umask 177, so the socket file is created mode 0600: with a
 * chmod after listen() it would be connectable by others (umask 002: the group) for a moment. listen()
 * binds synchronously, so the process-wide umask is tight only during that call.
 */
function listenPrivately(server: http.Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') return reject(inUse(path)); // another serve claimed it since our check
      // libuv reports a missing directory as EACCES: say what is wrong.
      const why = existsSync(dirname(path)) ? err.message : `the directory ${dirname(path)} does not exist`;
      reject(new InputError(`cannot create the control socket ${path}: ${why}; choose another path with --control <path>`));
    };
    server.once('error', onError);
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
}

/**
 * Makes sure `dir` is a private directory for control sockets: creates it (mode 0700) when missing,
 * and refuses one that is not a real directory of this user closed to everyone else, since anyone who
 * can enter or write it could reach, or replace, the socket inside.
 */
export function ensurePrivateDir(dir: string): void {
  const fix = `(fix: remove it, or give serve a socket path with --control <path>)`;
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new InputError(
        `cannot create the control socket directory ${dir}: ${(err as Error).message} (fix: create it with mode 0700, or give serve a socket path with --control <path>)`,
      );
    }
  }
  const st = lstatSync(dir);
  const uid = process.getuid!();
  if (!st.isDirectory()) throw new InputError(`control socket directory ${dir} is not a directory ${fix}`);
  if (st.uid !== uid) throw new InputError(`control socket directory ${dir} belongs to uid ${st.uid}, not to you (uid ${uid}) ${fix}`);
  if (st.mode & 0o077) {
    throw new InputError(
      `control socket directory ${dir} has mode ${(st.mode & 0o777).toString(8)}, open to other users (fix: chmod 700 ${dir}, or give serve a socket path with --control <path>)`,
    );
  }
}

export class ControlServer {
  private constructor(
    readonly path: string,
    private readonly server: http.Server,
  ) {}

  /** Claims the socket path (refusing one in use) and serves it. Errors are InputErrors naming the fix. */
  static async listen(path: string, handlers: ControlHandlers): Promise<ControlServer> {
    await clearStaleSocket(path);
    const server = http.createServer((req, res) => {
      void ControlServer.handle(handlers, req, res);
    });
    await listenPrivately(server, path);
    return new ControlServer(path, server);
  }

  private static async handle(handlers: ControlHandlers, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (code: number, body: ControlReply, headers: http.OutgoingHttpHeaders = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const name = (req.url ?? '/').replace(/^\/+/, '').split(/[?#]/)[0];
    const isIssuer = name.startsWith('issuer/') || name === 'reinit-sign-password';
    if (!isIssuer) req.resume(); // no request body is used
    if (!(CONTROL_COMMANDS as readonly string[]).includes(name)) {
      return send(404, { ok: false, error: `unknown command "${name}"; commands: ${CONTROL_COMMANDS.join(', ')} (POST, status also GET)` });
    }
    const command = name as ControlCommand;
    if (req.method !== 'POST' && !(command === 'status' && req.method === 'GET')) {
      return send(405, { ok: false, command, error: `${command} needs POST` });
    }
    try {
      if (command === 'remove') await handlers.remove();
      else if (command === 'insert') await handlers.insert();
      else if (command === 'reset') {
        const fault = handlers.reset();
        if (fault) return send(500, { ok: false, command, error: fault, status: handlers.status() });
      } else if (isIssuer) {
        const body = await readBody(req);
        // The connection closes after this answer: the client may still be sending the rest.
        if (body === undefined) return send(413, { ok: false, error: `request body over ${MAX_BODY} bytes` }, { connection: 'close' });
        const request = parseIssuerRequest(body);
        if (typeof request === 'string') return send(400, { ok: false, command, error: `body must be a JSON object like {"pin":"auth"} (${request})` });
        try {
          handlers.issuer(command as IssuerCommand, request);
        } catch (err) {
          return send(409, { ok: false, command, error: (err as Error).message });
        }
      }
      send(200, { ok: true, command, status: handlers.status() });
    } catch (err) {
      send(500, { ok: false, command, error: (err as Error).message });
    }
  }

  /** Stops serving and removes the socket file. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

/**
 * Refuses to send a body (it holds PIN values) to anything but a socket of this user: lstat, so a
 * symbolic link does not count, and the owner must be us, so a socket another user put at the path
 * (a stale default path, a typo) never receives a PIN value.
 */
function assertOwnSocket(path: string): void {
  const refuse = (why: string) =>
    new InputError(`control socket ${path} ${why}: refusing to send it a PIN value (fix: pass the control path your own \`myna-hil serve\` printed at start)`);
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    throw refuse((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be checked (${(err as Error).message})`);
  }
  if (!st.isSocket()) throw refuse(st.isSymbolicLink() ? 'is a symbolic link, not the socket itself' : 'is not a socket');
  const uid = process.getuid!();
  if (st.uid !== uid) throw refuse(`belongs to uid ${st.uid}, not to you (uid ${uid})`);
}

/**
 * Sends one command to a serve's control socket and returns its JSON reply (for tests and tools).
 * With a body, first checks that the socket is this user's own (assertOwnSocket; an InputError if not).
 */
export async function sendControl(path: string, command: string, opts: { method?: string; timeoutMs?: number; body?: unknown } = {}): Promise<ControlReply> {
  const method = opts.method ?? (command === 'status' ? 'GET' : 'POST');
  if (opts.body !== undefined) assertOwnSocket(path);
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: path, path: `/${command}`, method, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as ControlReply);
        } catch {
          reject(new Error(`control socket ${path}: not JSON: ${body.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`control socket ${path}: no answer within ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Nobody there (no file, or a serve that is gone): the path given is wrong, not the program.
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(
          new InputError(
            `control socket ${path}: no \`myna-hil serve\` listens there (${err.code}) (fix: start serve, or pass the control path it printed at start)`,
          ),
        );
      } else reject(err);
    });
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}
