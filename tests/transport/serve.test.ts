/**
 * `myna-hil serve` against an in-test vpcd: in-process (startServe with a test-double card) and as a
 * spawned process (the real command module, real signals, through tests/support/serve-fixture.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { sendControl } from '../../harness/serve/control.ts';
import { defaultControlPath, startServe, type RunningServe, type ServeOptions } from '../../harness/serve/serve.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import { InputError } from '../../simulator/errors.ts';
import { saveProfile } from '../../simulator/profile/io.ts';
import { VpcdControl } from '../../simulator/transport/vpcd/messages.ts';
import { testProfile } from '../support/card.ts';
import { cli } from '../support/cli.ts';
import { FakeVpcdServer } from '../support/fake-vpcd.ts';
import { staleSocket } from '../support/stale-socket.ts';
import { EchoCard, FixedSelectCard, TEST_ATR } from '../support/test-cards.ts';
import { waitFor } from '../support/wait.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const apdu = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'myna-serve-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function fakeVpcd(): Promise<FakeVpcdServer> {
  const s = new FakeVpcdServer();
  await s.listen();
  cleanups.push(() => s.stop());
  return s;
}

/**
 * Whether any card ever connected to `server`: connects a probe and waits until the server accepted
 * it. Connections are accepted in order, so one made earlier (even by a serve already gone) is in
 * `peers` by then.
 */
async function cardsSeen(server: FakeVpcdServer): Promise<number> {
  const probe = net.connect({ host: '127.0.0.1', port: server.port });
  cleanups.push(() => void probe.destroy());
  await new Promise<void>((r, j) => probe.once('connect', () => r()).once('error', j));
  await waitFor(() => server.peers.some((p) => p.socket.remotePort === probe.localPort), { what: 'the probe connection' });
  return server.peers.filter((p) => p.socket.remotePort !== probe.localPort).length;
}

/** Sets environment variables for one test. */
function setEnv(vars: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(vars)) {
    const old = process.env[k];
    cleanups.push(() => {
      if (old === undefined) delete process.env[k];
      else process.env[k] = old;
    });
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

const quiet = { out: () => {}, err: () => {} };
const isRoot = process.getuid?.() === 0;

describe('serve (in-process)', () => {
  async function serveEcho(card = new EchoCard()) {
    const server = await fakeVpcd();
    const dir = tempDir();
    const out: string[] = [];
    const err: string[] = [];
    const built: string[] = [];
    const running: RunningServe = await startServe(
      { card: 'profile.json', state: 'state.json', atr: '3B00', slot: 0, basePort: server.port, control: join(dir, 'ctl.sock') },
      (p, s, a) => {
        built.push(`${p}|${s}|${a}`);
        return card;
      },
      { out: (l) => out.push(l), err: (l) => err.push(l) },
    );
    cleanups.push(() => running.stop());
    return { server, running, out, err, card, built, control: join(dir, 'ctl.sock') };
  }

  it('builds the card through the buildCard seam with profile, state and ATR', async () => {
    const { built } = await serveEcho();
    expect(built).toEqual(['profile.json|state.json|3B00']);
  });

  it('says when the card becomes visible and logs exchanges with PIN data redacted', async () => {
    const { server, out } = await serveEcho();
    const peer = await server.peer(0);
    expect(await peer.getAtr()).toEqual(TEST_ATR);
    await waitFor(() => out.some((l) => /card visible to pcscd \(reader "Virtual PCD 00 00"/.test(l)), { what: 'the visible line' });
    await peer.control(VpcdControl.POWER_ON);
    await peer.request(apdu('00A4040C0AD392F000260100000001'));
    await peer.request(apdu('0020008004 31323334')); // VERIFY "1234"
    await peer.request(apdu('0024018006 313233343536')); // CHANGE REFERENCE DATA
    await peer.request(apdu('8032008004 39393939')); // CHANGE KEY
    await peer.request(apdu('00200080')); // VERIFY query: no data
    const log = out.join('\n');
    expect(log).toMatch(/reader: power-on/);
    expect(log).toMatch(/> 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01/);
    expect(log).toMatch(/> 00 20 00 80 <redacted> {2}\(VERIFY\)/);
    expect(log).toMatch(/> 00 24 01 80 <redacted> {2}\(CHANGE REFERENCE DATA\)/);
    expect(log).toMatch(/> 80 32 00 80 <redacted> {2}\(CHANGE KEY\)/);
    expect(log).toMatch(/> 00 20 00 80 {2}\(VERIFY\)/); // the bare query has nothing to redact
    // The echo card sends the command back in its response; only the length may be logged.
    expect(log).not.toMatch(/31 ?32 ?33 ?34|39 ?39 ?39 ?39/);
    expect(log).not.toMatch(/GET ATR/); // polls only with verbose
  });

  it('control socket: remove, insert, reset, status; unknown commands and wrong methods are refused', async () => {
    const card = new FixedSelectCard();
    const { server, control, out, running } = await serveEcho(card);
    expect(statSync(control).mode & 0o777).toBe(0o600);
    const p0 = await server.peer(0);
    await p0.getAtr();
    await p0.request(apdu('00A4000C023F00'));

    const st = await sendControl(control, 'status');
    expect(st).toMatchObject({ ok: true, command: 'status', status: { slot: 0, inserted: true, visible: true, apdus: 1 } });

    expect(card.selected).toBe(true);
    expect(await sendControl(control, 'reset')).toMatchObject({ ok: true, command: 'reset' });
    expect(card.selected).toBe(false);

    expect(await sendControl(control, 'remove')).toMatchObject({ ok: true, status: { inserted: false, connected: false } });
    await p0.waitClosed();
    expect(await sendControl(control, 'insert')).toMatchObject({ ok: true, status: { inserted: true } });
    const p1 = await server.peer(1);
    await p1.getAtr();
    expect(running.transport.status().insertions).toBe(2);

    expect(await sendControl(control, 'explode')).toMatchObject({ ok: false, error: expect.stringMatching(/unknown command "explode"/) });
    expect(await sendControl(control, 'remove', { method: 'GET' })).toMatchObject({ ok: false, error: 'remove needs POST' });
    expect(out.join('\n')).toMatch(/removed \(control\)[\s\S]*inserted \(control\)/);
  });

  it('refuses a control socket held by a live serve before its card enters vpcd (InputError naming the socket and the fix), and replaces a stale one', async () => {
    const first = await serveEcho();
    const server = await fakeVpcd();
    const closed: string[] = [];
    const second = startServe(
      { card: 'x', slot: 0, basePort: server.port, control: first.control },
      () => Object.assign(new EchoCard(), { close: () => void closed.push('card') }),
      quiet,
    );
    await expect(second).rejects.toThrow(InputError);
    await expect(second).rejects.toThrow(
      `control socket ${first.control} is in use (another \`myna-hil serve\` for this slot?): stop the other \`myna-hil serve\`, or give this one its own socket with --control <path>`,
    );
    expect(await cardsSeen(server)).toBe(0);
    expect(closed).toEqual(['card']);
    // The first serve still owns its socket and its card.
    expect(await sendControl(first.control, 'status')).toMatchObject({ ok: true, status: { inserted: true } });
    const dir = tempDir();
    const path = join(dir, 'plain-file');
    writeFileSync(path, 'not a socket');
    await expect(
      startServe({ card: 'x', slot: 1, basePort: server.port, control: path }, () => new EchoCard(), { out: () => {}, err: () => {} }),
    ).rejects.toThrow(/not a socket/);
    // A stale socket (its server gone without cleaning up) is replaced.
    const stalePath = join(dir, 'stale.sock');
    staleSocket(stalePath);
    const again = await startServe({ card: 'x', slot: 1, basePort: server.port, control: stalePath }, () => new EchoCard(), { out: () => {}, err: () => {} });
    cleanups.push(() => again.stop());
    expect((await sendControl(stalePath, 'status')).ok).toBe(true);
  });

  it('binds the control socket mode 0600 from its creation: even under umask 000 no other user could ever connect', async () => {
    const oldUmask = process.umask(0);
    cleanups.push(() => void process.umask(oldUmask));
    // The socket file's mode the moment listen() has bound it (before anything could chmod it).
    const modes: number[] = [];
    const listen = net.Server.prototype.listen;
    const spy = vi.spyOn(net.Server.prototype, 'listen').mockImplementation(function (this: net.Server, ...args: unknown[]) {
      const r = (listen as (...a: unknown[]) => net.Server).apply(this, args);
      if (typeof args[0] === 'string') modes.push(lstatSync(args[0]).mode & 0o777);
      return r;
    });
    cleanups.push(() => spy.mockRestore());
    const { control } = await serveEcho();
    expect(modes).toEqual([0o600]);
    expect(statSync(control).mode & 0o777).toBe(0o600);
    expect(process.umask(0)).toBe(0); // the process umask is left as it was
  });

  it('by default the control socket is in a private directory (0700) made for it: $XDG_RUNTIME_DIR/myna-hil, else <tmpdir>/myna-hil-<uid>', async () => {
    const server = await fakeVpcd();
    const xdg = tempDir();
    setEnv({ XDG_RUNTIME_DIR: xdg });
    expect(defaultControlPath(1)).toBe(join(xdg, 'myna-hil', 'serve-slot1.sock'));
    const running = await startServe({ card: 'x', slot: 0, basePort: server.port }, () => new EchoCard(), quiet);
    cleanups.push(() => running.stop());
    expect(running.control.path).toBe(join(xdg, 'myna-hil', 'serve-slot0.sock'));
    expect(statSync(join(xdg, 'myna-hil')).mode & 0o777).toBe(0o700);
    expect(await sendControl(running.control.path, 'status')).toMatchObject({ ok: true });

    const tmp = tempDir();
    setEnv({ XDG_RUNTIME_DIR: undefined, TMPDIR: tmp });
    expect(defaultControlPath(0)).toBe(join(tmp, `myna-hil-${process.getuid!()}`, 'serve-slot0.sock'));
  });

  it('refuses a default control directory open to others or not a directory, with the fix; no card enters vpcd', async () => {
    const server = await fakeVpcd();
    setEnv({ XDG_RUNTIME_DIR: tempDir() });
    const dir = dirname(defaultControlPath(0));
    const serve = () => startServe({ card: 'x', slot: 0, basePort: server.port }, () => new EchoCard(), quiet);
    mkdirSync(dir);
    chmodSync(dir, 0o750);
    await expect(serve()).rejects.toThrow(
      new InputError(
        `control socket directory ${dir} has mode 750, open to other users (fix: chmod 700 ${dir}, or give serve a socket path with --control <path>)`,
      ),
    );
    rmSync(dir, { recursive: true });
    writeFileSync(dir, '');
    await expect(serve()).rejects.toThrow(
      /^control socket directory .* is not a directory \(fix: remove it, or give serve a socket path with --control <path>\)$/,
    );
    expect(await cardsSeen(server)).toBe(0);
  });

  it('a --control path that cannot be bound is an InputError naming it and the fix; no card enters vpcd', async () => {
    const server = await fakeVpcd();
    const path = join(tempDir(), 'missing-dir', 'ctl.sock');
    const serve = startServe({ card: 'x', slot: 0, basePort: server.port, control: path }, () => new EchoCard(), quiet);
    await expect(serve).rejects.toThrow(InputError);
    await expect(serve).rejects.toThrow(
      `cannot create the control socket ${path}: the directory ${dirname(path)} does not exist; choose another path with --control <path>`,
    );
    expect(await cardsSeen(server)).toBe(0);
  });

  it.skipIf(!isRoot)('refuses a default control directory of another user (run as root to chown)', async () => {
    const server = await fakeVpcd();
    setEnv({ XDG_RUNTIME_DIR: tempDir() });
    const dir = dirname(defaultControlPath(0));
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 4242, 4242);
    await expect(startServe({ card: 'x', slot: 0, basePort: server.port }, () => new EchoCard(), quiet)).rejects.toThrow(
      `control socket directory ${dir} belongs to uid 4242, not to you (uid 0) (fix: remove it, or give serve a socket path with --control <path>)`,
    );
  });

  it('a storage fault of the card (65 81) is one warning line naming the state file; a bug (6F 00) names none', async () => {
    const server = await fakeVpcd();
    const card = cardFromProfile(await testProfile());
    const err: string[] = [];
    const opts: ServeOptions = { card: 'card.json', state: 'card.state.json', slot: 0, basePort: server.port, control: join(tempDir(), 'ctl.sock') };
    const running = await startServe(opts, () => card, { out: () => {}, err: (l) => err.push(l) });
    cleanups.push(() => running.stop());
    // The card tells its host the status word it answered (simulator/card/card.ts onFault).
    const onFault = card.onFault as (e: unknown, sw?: number) => void;
    onFault(new Error('the card state could not be saved, nothing was changed: ENOSPC'), 0x6581);
    onFault(new Error('a bug'), 0x6f00);
    expect(err).toHaveLength(2);
    expect(err[0]).toMatch(
      / slot 0 warning: card fault, answered 6581 \(\w+\) \(state file card\.state\.json\): the card state could not be saved, nothing was changed: ENOSPC$/,
    );
    expect(err[1]).toMatch(/ slot 0 warning: card fault, answered 6F00 \(NO_PRECISE_DIAGNOSIS\): a bug$/);
  });

  it('stop removes the card, closes the control socket and calls the card close()', async () => {
    const card = Object.assign(new EchoCard(), {
      closed: 0,
      close() {
        this.closed++;
      },
    });
    const { server, running, control } = await serveEcho(card);
    const p = await server.peer(0);
    await p.getAtr();
    await running.stop();
    await running.stop();
    await p.waitClosed();
    expect(card.closed).toBe(1);
    expect(() => statSync(control)).toThrow();
  });
});

describe('serve (spawned command, real signals)', () => {
  function spawnServe(args: string[]): { child: ChildProcess; out: string[]; exited: Promise<number | null> } {
    const child = spawn(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), join(ROOT, 'tests/support/serve-fixture.ts'), 'serve', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: string[] = [];
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (b: Buffer) => out.push(...b.toString('utf8').split('\n').filter(Boolean)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    });
    return { child, out, exited };
  }

  it('--help documents the options and the control channel', async () => {
    const { out, exited } = spawnServe(['--help']);
    expect(await exited).toBe(0);
    const help = out.join('\n');
    for (const s of [
      '--card',
      '--slot',
      '--state',
      '--atr',
      '--reversed',
      '--quick-ack',
      '--control',
      'SIGUSR1',
      'SIGUSR2',
      'POST http://serve/remove',
      'redacted',
    ]) {
      expect(help).toContain(s);
    }
  }, 30_000);

  it('serves until SIGTERM; SIGUSR1 toggles removal, SIGUSR2 resets; exits 0', async () => {
    const server = await fakeVpcd();
    const control = join(tempDir(), 'ctl.sock');
    const { child, out, exited } = spawnServe(['--card', 'any.json', '--vpcd-port', String(server.port), '--control', control]);
    const p0 = await server.peer(0, 20_000);
    await p0.getAtr();
    await waitFor(() => out.some((l) => /card visible/.test(l)), { timeoutMs: 5000, what: 'the visible line' });
    await p0.request(apdu('00A4000C023F00'));

    child.kill('SIGUSR2');
    await waitFor(() => out.some((l) => /card reset in place \(signal\)/.test(l)), { what: 'the reset line' });

    child.kill('SIGUSR1');
    await p0.waitClosed();
    await waitFor(() => out.some((l) => /removed \(signal\)/.test(l)), { what: 'the removal line' });
    child.kill('SIGUSR1');
    const p1 = await server.peer(1);
    await p1.getAtr();
    expect((await sendControl(control, 'status')).status).toMatchObject({ inserted: true, apdus: 1, insertions: 2 });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await p1.waitClosed();
    expect(() => statSync(control)).toThrow();
    expect(out.join('\n')).toMatch(/SIGTERM: stopping[\s\S]*stopped/);
  }, 40_000);

  it('myna-hil serve on a control socket in use: exit 2, one line naming the socket and the fix, and its card never enters vpcd', async () => {
    const first = await fakeVpcd();
    const control = join(tempDir(), 'ctl.sock');
    const running = await startServe({ card: 'x', slot: 0, basePort: first.port, control }, () => new EchoCard(), quiet);
    cleanups.push(() => running.stop());
    const profile = join(tempDir(), 'card.json');
    saveProfile(profile, await testProfile());
    const second = await fakeVpcd();
    const r = await cli('serve', '--card', profile, '--vpcd-port', String(second.port), '--control', control);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `myna-hil: control socket ${control} is in use (another \`myna-hil serve\` for this slot?): stop the other \`myna-hil serve\`, or give this one its own socket with --control <path>\n`,
    );
    expect(await cardsSeen(second)).toBe(0);
    expect(await sendControl(control, 'status')).toMatchObject({ ok: true });
  }, 60_000);

  it('rejects a bad --slot (non-zero exit, the message names the option)', async () => {
    const { out, exited } = spawnServe(['--card', 'x.json', '--slot', '-1']);
    expect(await exited).not.toBe(0);
    expect(out.join('\n')).toMatch(/--slot -1/);
  }, 30_000);
});
