/**
 * The issuer's out-of-band operations on a served card, through serve's control socket and through
 * `myna-hil issuer --control`: counters in GET /status, reset-counter, set-pin, and the kiosk flow that
 * re-initialises the sign password only after a client verified the auth PIN in the card session.
 * The "client" is an in-test vpcd peer sending APDUs, as pcscd would.
 */
import fc from 'fast-check';
import { chownSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendControl } from '../../harness/serve/control.ts';
import { InputError } from '../../simulator/errors.ts';
import { startServe, type RunningServe } from '../../harness/serve/serve.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { VpcdControl } from '../../simulator/transport/vpcd/messages.ts';
import { testProfile, verifyCmd } from '../support/card.ts';
import { cli } from '../support/cli.ts';
import { FakeVpcdServer, type VpcdPeer } from '../support/fake-vpcd.ts';
import { staleSocket } from '../support/stale-socket.ts';

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
const sw = (r: Uint8Array) =>
  Buffer.from(r.subarray(r.length - 2))
    .toString('hex')
    .toUpperCase();

let profile: Profile;
let server: FakeVpcdServer;
let running: RunningServe;
let peer: VpcdPeer;
let dir: string;
let sock: string;
const out: string[] = [];

beforeAll(async () => {
  profile = await testProfile();
  server = new FakeVpcdServer();
  await server.listen();
  dir = mkdtempSync(join(tmpdir(), 'myna-serve-issuer-'));
  sock = join(dir, 'ctl.sock');
  running = await startServe({ card: 'p', slot: 0, basePort: server.port, control: sock }, () => cardFromProfile(profile), {
    out: (l) => out.push(l),
    err: (l) => out.push(l),
  });
  peer = await server.peer(0);
  await peer.getAtr();
  await peer.control(VpcdControl.POWER_ON);
});

afterAll(async () => {
  await running?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const lockSign = async () => {
  expect(sw(await peer.request(bytes('00A4040C0AD392F000260100000001')))).toBe('9000');
  expect(sw(await peer.request(bytes('00A4020C02001B')))).toBe('9000');
  for (let i = 4; i >= 0; i--) expect(sw(await peer.request(bytes(verifyCmd('WRONG9'))))).toBe(`63C${i}`);
};

describe('issuer operations on a served card', () => {
  it('GET /status shows the counters, never the values', async () => {
    await lockSign();
    const st = await sendControl(sock, 'status');
    expect((st.status as { pins: unknown }).pins).toMatchObject({ sign: { remaining: 0, max: 5 }, auth: { remaining: 3, max: 3 } });
    expect(JSON.stringify(st)).not.toContain(profile.pins.auth.value === '1234' ? '"1234"' : profile.pins.auth.value);
  });

  it('re-initialising the sign password is refused before the auth PIN is verified, allowed after', async () => {
    const refused = await sendControl(sock, 'reinit-sign-password', { body: { value: 'KIOSK123' } });
    expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(/only after the auth PIN was verified in this card session/) });
    expect(sw(await peer.request(bytes('00A4020C020018')))).toBe('9000');
    expect(sw(await peer.request(bytes(verifyCmd(profile.pins.auth.value))))).toBe('9000');
    const bad = await sendControl(sock, 'reinit-sign-password', { body: { value: 'LETTERSONLY' } });
    expect(bad).toMatchObject({ ok: false, error: expect.stringMatching(/format/) });
    expect(await sendControl(sock, 'reinit-sign-password', { body: { value: 'KIOSK123' } })).toMatchObject({ ok: true });
    expect(sw(await peer.request(bytes('00A4020C02001B')))).toBe('9000');
    expect(sw(await peer.request(bytes(verifyCmd('KIOSK123'))))).toBe('9000');
    expect(out.join('\n')).not.toContain('KIOSK123');
  });

  it('myna-hil issuer --control: status, reset-counter, set-pin; bad requests are exit 2 with the reason', async () => {
    expect(sw(await peer.request(bytes('00A4040C0AD392F000260100000001')))).toBe('9000');
    expect(sw(await peer.request(bytes('00A4020C020018')))).toBe('9000');
    for (let i = 2; i >= 0; i--) await peer.request(bytes(verifyCmd('0000')));
    let r = await cli('issuer', 'status', '--control', sock);
    expect(r.stdout).toMatch(/^auth\s+0\/3 tries left\s+LOCKED$/m);
    r = await cli('issuer', 'reset-counter', '--control', sock, '--pin', 'auth');
    expect(r.code, r.stderr).toBe(0);
    expect(sw(await peer.request(bytes('00200080')))).toBe('63C3');
    r = await cli('issuer', 'set-pin', '--control', sock, '--pin', 'auth', '--value', '12');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/issuer\/set-pin: new auth PIN does not match its format \(4 digits\)/);
    r = await cli('issuer', 'set-pin', '--control', sock, '--pin', 'auth', '--value', '8642');
    expect(r.code, r.stderr).toBe(0);
    expect(sw(await peer.request(bytes(verifyCmd('8642'))))).toBe('9000');
    r = await cli('issuer', 'status', '--control', sock, '--card', 'x.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/either --control .* or --card with --state/);
    expect(out.join('\n')).not.toMatch(/8642/);
  });

  it('a malformed body is 400, an unknown PIN 409, both with the reason', async () => {
    const unknown = await sendControl(sock, 'issuer/reset-counter', { body: { pin: 'nope' } });
    expect(unknown).toMatchObject({ ok: false, error: '"pin" must be one of sign, auth, juki, kenmen, common' });
    const notObject = await sendControl(sock, 'issuer/set-pin', { body: 'pin=auth' });
    expect(notObject).toMatchObject({ ok: false, error: expect.stringMatching(/^body must be a JSON object/) });
  });

  it('a body that is not JSON is 400 without quoting it (it holds a PIN value)', async () => {
    const r = await post('issuer/set-pin', '{"pin":"auth","value":"8642"');
    expect(r).toEqual({ code: 400, body: { ok: false, command: 'issuer/set-pin', error: 'body must be a JSON object like {"pin":"auth"} (not valid JSON)' } });
    expect(await post('issuer/set-pin', '["auth","8642"]')).toMatchObject({
      code: 400,
      body: { error: 'body must be a JSON object like {"pin":"auth"} (not an object)' },
    });
  });

  it('a body over 4096 bytes is answered 413 with the JSON error, and serve goes on', async () => {
    const over = { code: 413, body: { ok: false, error: 'request body over 4096 bytes' } };
    // 4096 bytes is still read (then refused for its content); bytes, not characters, count.
    const pad = (n: number) => `{"pin":"nope"}${' '.repeat(n - 14)}`;
    expect(await post('issuer/reset-counter', pad(4096))).toMatchObject({ code: 409, body: { error: expect.stringMatching(/^"pin" must be one of/) } });
    expect(await post('issuer/reset-counter', pad(4097))).toEqual(over);
    expect(await post('issuer/set-pin', JSON.stringify({ pin: 'auth', value: 'あ'.repeat(1400) }))).toEqual(over);
    // Far over: answered while the client is still sending.
    expect(await post('reinit-sign-password', 'x'.repeat(4 << 20))).toEqual(over);
    expect(await sendControl(sock, 'status')).toMatchObject({ ok: true });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 14, max: 3 * 4096 }), async (n) => {
        expect((await post('issuer/reset-counter', pad(n))).code).toBe(n > 4096 ? 413 : 409);
      }),
      { numRuns: 25 },
    );
  });
});

/** A raw POST to the control socket, for status codes and bodies sendControl does not make. */
function post(command: string, body: string): Promise<{ code: number | undefined; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, path: `/${command}`, method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ code: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('PIN values go only to a control socket of this user', () => {
  /** A listener at `path` that counts connections and never answers. */
  async function listener(path: string): Promise<{ connections: number }> {
    const seen = { connections: 0 };
    const server = net.createServer((s) => {
      seen.connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(path, () => r()));
    cleanupServers.push(server);
    return seen;
  }
  const cleanupServers: net.Server[] = [];
  afterAll(async () => {
    for (const s of cleanupServers) await new Promise<void>((r) => s.close(() => r()));
  });

  it('refuses a symbolic link, even to our own serve, and a path that is not there', async () => {
    const link = join(dir, 'link.sock');
    symlinkSync(sock, link);
    const logged = out.length;
    const sent = sendControl(link, 'issuer/set-pin', { body: { pin: 'auth', value: '8642' }, timeoutMs: 2000 });
    await expect(sent).rejects.toThrow(InputError);
    await expect(sent).rejects.toThrow(
      `control socket ${link} is a symbolic link, not the socket itself: refusing to send it a PIN value (fix: pass the control path your own \`myna-hil serve\` printed at start)`,
    );
    await expect(sendControl(join(dir, 'none.sock'), 'issuer/reset-counter', { body: { pin: 'auth' } })).rejects.toThrow(/none\.sock does not exist: refusing/);
    expect(out.slice(logged).join('\n')).not.toMatch(/issuer:/);
    expect(await sendControl(link, 'status')).toMatchObject({ ok: true }); // no PIN value: status may follow the link
  });

  it('a control path where no serve listens is an InputError with the fix (issuer exit 2)', async () => {
    const none = join(dir, 'none.sock');
    const refused = sendControl(none, 'status');
    await expect(refused).rejects.toThrow(InputError);
    await expect(refused).rejects.toThrow(
      `control socket ${none}: no \`myna-hil serve\` listens there (ENOENT) (fix: start serve, or pass the control path it printed at start)`,
    );
    const stale = join(dir, 'stale.sock');
    staleSocket(stale);
    await expect(sendControl(stale, 'status')).rejects.toThrow(/no `myna-hil serve` listens there \(ECONNREFUSED\)/);
    const r = await cli('issuer', 'status', '--control', none);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^myna-hil: control socket .*none\.sock: no `myna-hil serve` listens there/);
  }, 60_000);

  it.skipIf(process.getuid?.() !== 0)(
    'refuses a socket of another user before connecting, in sendControl and in `issuer --control` (exit 2) (root: chown)',
    async () => {
      const foreign = join(dir, 'foreign.sock');
      const seen = await listener(foreign);
      chownSync(foreign, 4242, 4242);
      const refusal = `control socket ${foreign} belongs to uid 4242, not to you (uid 0): refusing to send it a PIN value`;
      await expect(sendControl(foreign, 'issuer/set-pin', { body: { pin: 'auth', value: '8642' }, timeoutMs: 2000 })).rejects.toThrow(refusal);
      const r = await cli('issuer', 'set-pin', '--control', foreign, '--pin', 'auth', '--value', '8642');
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(refusal);
      expect(r.stderr + r.stdout).not.toContain('8642');
      expect(seen.connections).toBe(0);
    },
    60_000,
  );
});
