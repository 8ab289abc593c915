/**
 * The issuer's out-of-band operations on a served card, through serve's control socket and through
 * `myna-hil issuer --control`: counters in GET /status, reset-counter, set-pin, and the kiosk flow that
 * re-initialises the sign password only after a client verified the auth PIN in the card session.
 * The "client" is an in-test vpcd peer sending APDUs, as pcscd would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendControl } from '../../harness/serve/control.ts';
import { startServe, type RunningServe } from '../../harness/serve/serve.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { VpcdControl } from '../../simulator/transport/vpcd/messages.ts';
import { testProfile, verifyCmd } from '../support/card.ts';
import { cli } from '../support/cli.ts';
import { FakeVpcdServer, type VpcdPeer } from '../support/fake-vpcd.ts';

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
const sw = (r: Uint8Array) => Buffer.from(r.subarray(r.length - 2)).toString('hex').toUpperCase();

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
});
