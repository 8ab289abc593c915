/**
 * The control channel of `myna-hil serve`: a tiny HTTP API on a Unix domain socket (mode 0600, so only
 * the user running serve can use it; nothing listens on the network). Any HTTP client that speaks
 * to Unix sockets works, e.g. curl:
 *
 *   curl -s --unix-socket /tmp/myna-hil-serve-slot0.sock -X POST http://serve/remove
 *   curl -s --unix-socket /tmp/myna-hil-serve-slot0.sock -X POST http://serve/insert
 *   curl -s --unix-socket /tmp/myna-hil-serve-slot0.sock -X POST http://serve/reset
 *   curl -s --unix-socket /tmp/myna-hil-serve-slot0.sock http://serve/status
 *
 * and the issuer's out-of-band operations on the served card (the municipal counter; JSON bodies;
 * PIN values are never logged or echoed):
 *
 *   … -X POST http://serve/issuer/reset-counter -d '{"pin":"auth"}'
 *   … -X POST http://serve/issuer/set-pin -d '{"pin":"sign","value":"NEW1PASS"}'
 *   … -X POST http://serve/reinit-sign-password -d '{"value":"NEW1PASS"}'   (needs the auth PIN
 *     verified by a client in the current card session, as at a kiosk)
 *
 * Every answer is one JSON object: `{"ok":true,"command":"remove","status":{...}}`, or
 * `{"ok":false,"error":"..."}` with status 404 (unknown command) / 405 (wrong method) / 500.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

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

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
      if (body.length > MAX_BODY) {
        reject(new Error(`request body over ${MAX_BODY} bytes`));
        req.destroy();
      }
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export interface ControlReply {
  ok: boolean;
  command?: ControlCommand;
  status?: unknown;
  error?: string;
}

/** Throws when the path is held by a live server; removes a stale socket file; refuses other files. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // does not exist
  }
  if (!st.isSocket()) throw new Error(`control socket path ${path} exists and is not a socket; choose another with --control`);
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new Error(`control socket ${path} is in use: another \`myna-hil serve\` runs for this slot? (or pass --control)`);
  unlinkSync(path);
}

export class ControlServer {
  private constructor(
    readonly path: string,
    private readonly server: http.Server,
  ) {}

  static async listen(path: string, handlers: ControlHandlers): Promise<ControlServer> {
    await clearStaleSocket(path);
    const server = http.createServer((req, res) => {
      void ControlServer.handle(handlers, req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, 0o600);
    return new ControlServer(path, server);
  }

  private static async handle(handlers: ControlHandlers, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (code: number, body: ControlReply) => {
      res.writeHead(code, { 'content-type': 'application/json' });
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
        let request: IssuerRequest;
        try {
          const body = await readBody(req);
          request = body.trim() ? (JSON.parse(body) as IssuerRequest) : {};
          if (typeof request !== 'object' || request === null) throw new Error('not an object');
        } catch (err) {
          return send(400, { ok: false, command, error: `body must be a JSON object like {"pin":"auth"} (${(err as Error).message})` });
        }
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

/** Sends one command to a serve's control socket and returns its JSON reply (for tests and tools). */
export function sendControl(path: string, command: string, opts: { method?: string; timeoutMs?: number; body?: unknown } = {}): Promise<ControlReply> {
  const method = opts.method ?? (command === 'status' ? 'GET' : 'POST');
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
    req.on('error', reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}
