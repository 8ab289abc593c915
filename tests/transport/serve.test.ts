/**
 * `myna-hil serve` against an in-test vpcd: in-process (startServe with a test-double card) and as a
 * spawned process (the real command module, real signals, through tests/support/serve-fixture.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sendControl } from '../../harness/serve/control.ts';
import { startServe, type RunningServe } from '../../harness/serve/serve.ts';
import { VpcdControl } from '../../simulator/transport/vpcd/messages.ts';
import { FakeVpcdServer } from '../support/fake-vpcd.ts';
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
    expect(log).toMatch(/> 00 20 00 80 <redacted>  \(VERIFY\)/);
    expect(log).toMatch(/> 00 24 01 80 <redacted>  \(CHANGE REFERENCE DATA\)/);
    expect(log).toMatch(/> 80 32 00 80 <redacted>  \(CHANGE KEY\)/);
    expect(log).toMatch(/> 00 20 00 80  \(VERIFY\)/); // the bare query has nothing to redact
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

  it('refuses a control socket held by a live serve, and replaces a stale one', async () => {
    const first = await serveEcho();
    const server = await fakeVpcd();
    await expect(
      startServe({ card: 'x', slot: 1, basePort: server.port, control: first.control }, () => new EchoCard(), { out: () => {}, err: () => {} }),
    ).rejects.toThrow(/in use/);
    const dir = tempDir();
    const path = join(dir, 'plain-file');
    writeFileSync(path, 'not a socket');
    await expect(startServe({ card: 'x', slot: 1, basePort: server.port, control: path }, () => new EchoCard(), { out: () => {}, err: () => {} })).rejects.toThrow(
      /not a socket/,
    );
    // A stale socket (its server gone without cleaning up) is replaced.
    const stalePath = join(dir, 'stale.sock');
    const { default: net } = await import('node:net');
    const stale = net.createServer();
    await new Promise<void>((r) => stale.listen(stalePath, () => r()));
    // Close the listener but keep the file, as a killed process would.
    (stale as unknown as { _handle: { close(): void } | null })._handle?.close();
    const again = await startServe({ card: 'x', slot: 1, basePort: server.port, control: stalePath }, () => new EchoCard(), { out: () => {}, err: () => {} });
    cleanups.push(() => again.stop());
    expect((await sendControl(stalePath, 'status')).ok).toBe(true);
  });

  it('stop removes the card, closes the control socket and calls the card close()', async () => {
    const card = Object.assign(new EchoCard(), { closed: 0, close() { this.closed++; } });
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
    for (const s of ['--card', '--slot', '--state', '--atr', '--reversed', '--quick-ack', '--control', 'SIGUSR1', 'SIGUSR2', 'POST http://serve/remove', 'redacted']) {
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

  it('rejects a bad --slot (non-zero exit, the message names the option)', async () => {
    const { out, exited } = spawnServe(['--card', 'x.json', '--slot', '-1']);
    expect(await exited).not.toBe(0);
    expect(out.join('\n')).toMatch(/--slot -1/);
  }, 30_000);
});
