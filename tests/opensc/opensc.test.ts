/**
 * OpenSC as the third-party client it is (Debian 12's 0.23: opensc-tool, pkcs15-tool, pkcs11-tool with
 * opensc-pkcs11.so) against the REAL virtual card served through pcscd (spec mynumber-card.md 10.4,
 * 10.5). The card is served in this process, so the test reads its counters from the card object and
 * from its state file; the tools run as child processes (asynchronously: the card answers from this
 * process's event loop).
 *
 * PIN values appear only on the tools' command lines (these are test cards); messages redact them.
 * Needs `bash scripts/pcsc-stack.sh start` (the stack script also installs OpenSC).
 */
import { randomBytes, verify, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openPcsc, vpcdReaderName, type PcscContext } from '../../harness/pcsc/index.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { FileStore } from '../../simulator/state/store.ts';
import type { VpcdExchange } from '../../simulator/transport/vpcd/messages.ts';
import { testProfile } from '../support/card.ts';
import { describeOpensc, OPENSC_MODULE, openscMissing, parseSlots, type Run, runTool as run, type Slot, signArgs } from '../support/opensc.ts';
import { acquirePcscLock } from '../support/pcsc-env.ts';
import { hex, serveRealCard, type ServedCard } from '../support/real-card.ts';

const R0 = vpcdReaderName(0);
const TOOLS = ['/usr/bin/opensc-tool', '/usr/bin/pkcs15-tool', '/usr/bin/pkcs11-tool', '/usr/bin/openssl'];
const AUTH_TOKEN = 'JPKI (User Authentication PIN)';
const SIGN_TOKEN = 'JPKI (Digital Signature PIN)';

/** `pkcs15-tool --list-pins` output, one entry per PIN object. */
function parsePins(out: string): Map<string, { id: string; triesLeft: number; minLen: number; maxLen: number; reference: number }> {
  const pins = new Map<string, { id: string; triesLeft: number; minLen: number; maxLen: number; reference: number }>();
  for (const block of out.split(/^(?=PIN \[)/m)) {
    const label = /^PIN \[(.*)\]/.exec(block)?.[1];
    if (!label) continue;
    const field = (name: string) => new RegExp(`^\\s*${name}\\s*:\\s*(.*)$`, 'm').exec(block)?.[1]?.trim() ?? '';
    const len = /min_len:(\d+), max_len:(\d+)/.exec(field('Length'));
    pins.set(label, {
      id: field('ID'),
      triesLeft: Number(field('Tries left')),
      minLen: Number(len?.[1]),
      maxLen: Number(len?.[2]),
      reference: Number(/^(\d+)/.exec(field('Reference'))?.[1]),
    });
  }
  return pins;
}

describeOpensc(TOOLS, 'OpenSC 0.23 (Debian) against the real card through pcscd', () => {
  let release: () => void = () => {};
  let ctx: PcscContext | undefined;
  let profile: Profile;
  let served: ServedCard;
  let dir: string;
  let statePath: string;
  /** Status words the card answered, per command header (no command data is kept: it holds PINs). */
  const seen: Array<{ header: string; hasData: boolean; sw: string }> = [];
  const onExchange = (e: VpcdExchange) => {
    if (e.kind !== 'apdu' || !e.command || !e.reply) return;
    seen.push({ header: hex(e.command.subarray(0, 4)), hasData: e.command.length > 5, sw: hex(e.reply.subarray(e.reply.length - 2)) });
  };
  const pin = (id: 'auth' | 'sign') => profile.pins[id].value;
  const stateRemaining = (id: 'auth' | 'sign') =>
    (JSON.parse(readFileSync(statePath, 'utf8')) as { pins: Record<string, { remaining: number }> }).pins[id].remaining;
  const file = (name: string) => join(dir, name);

  async function ok(cmd: string, args: string[]): Promise<Run> {
    const r = await run(cmd, args);
    expect(r.code, r.what).toBe(0);
    return r;
  }
  async function slots(): Promise<Slot[]> {
    return parseSlots((await ok('pkcs11-tool', ['--module', OPENSC_MODULE, '--list-slots'])).stdout);
  }
  /** The slot ID of a JPKI token in reader 0, found from `pkcs11-tool -L` (never hard-coded). */
  async function slotOf(token: string): Promise<string> {
    const all = await slots();
    const s = all.find((x) => x.reader === R0 && x.token === token);
    expect(s, `no slot with token "${token}" in ${R0}: ${JSON.stringify(all)}`).toBeDefined();
    return s!.id;
  }
  async function readCert(id: string, extra: string[] = []): Promise<X509Certificate> {
    const out = file(`cert-${id}.pem`);
    rmSync(out, { force: true });
    await ok('pkcs15-tool', ['--reader', '0', '--read-certificate', id, ...extra, '--output', out]);
    return new X509Certificate(readFileSync(out));
  }

  beforeAll(async () => {
    const why = openscMissing(TOOLS);
    if (why) throw new Error(`OpenSC is needed: ${why}`);
    release = await acquirePcscLock();
    profile = await testProfile('adult');
    dir = mkdtempSync(join(tmpdir(), 'myna-opensc-'));
    statePath = file('state.json');
    ctx = await openPcsc();
    await ctx.waitForCard(R0, 'absent', { timeoutMs: 10_000 });
    served = await serveRealCard(profile, { slot: 0, store: new FileStore(statePath) });
    served.transport.on('exchange', onExchange);
    await ctx.waitForCard(R0, 'present');
  }, 300_000);

  afterEach(() => {
    expect(served.warnings).toEqual([]);
  });

  afterAll(async () => {
    await served?.stop();
    await ctx?.waitForCard(R0, 'absent').catch(() => {});
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    release();
  });

  it('opensc-tool names the card jpki and shows its ATR', async () => {
    expect((await ok('opensc-tool', ['--reader', '0', '--name'])).stdout.trim()).toBe('jpki');
    expect((await ok('opensc-tool', ['--reader', '0', '--atr'])).stdout.trim()).toBe('3b:da:13:ff:81:31:fb:46:80:12:39:2f:31:c1:73:c6:01:c0:3b');
  });

  it('pkcs15-tool --list-pins shows both JPKI PINs with their tries left', async () => {
    const pins = parsePins((await ok('pkcs15-tool', ['--reader', '0', '--list-pins'])).stdout);
    expect([...pins.keys()]).toEqual(['User Authentication PIN', 'Digital Signature PIN']);
    expect(pins.get('User Authentication PIN')).toEqual({ id: '01', triesLeft: 3, minLen: 4, maxLen: 4, reference: 1 });
    expect(pins.get('Digital Signature PIN')).toEqual({ id: '02', triesLeft: 5, minLen: 6, maxLen: 16, reference: 2 });
  });

  it("pkcs15-tool reads the four certificates, each identical to the profile's (the sign certificate only after its PIN)", async () => {
    const list = (await ok('pkcs15-tool', ['--reader', '0', '--list-certificates'])).stdout;
    const certs = list
      .split(/^(?=X\.509 Certificate \[)/m)
      .map((b) => [/^X\.509 Certificate \[(.*)\]/.exec(b)?.[1], /^\s*ID\s*:\s*(\S+)/m.exec(b)?.[1], /^\s*Object Flags\s*:\s*(.*)$/m.exec(b)?.[1]])
      .filter(([label]) => label);
    expect(certs).toEqual([
      ['User Authentication Certificate', '01', '[0x00]'],
      ['Digital Signature Certificate', '02', '[0x01], private'],
      ['User Authentication Certificate CA', '03', '[0x00]'],
      ['Digital Signature Certificate CA', '04', '[0x00]'],
    ]);

    for (const [id, key] of [
      ['01', 'auth'],
      ['03', 'authCa'],
      ['04', 'signCa'],
    ] as const) {
      const cert = await readCert(id);
      expect(hex(cert.raw), `certificate ${id}`).toBe(hex(new X509Certificate(profile.certificates[key]).raw));
      expect(readFileSync(file(`cert-${id}.pem`), 'utf8').trim()).toBe(profile.certificates[key].trim());
    }

    // Without the sign password the card refuses the read (69 82) and pkcs15-tool fails.
    seen.length = 0;
    const denied = await run('pkcs15-tool', ['--reader', '0', '--read-certificate', '02', '--output', file('cert-02.pem')]);
    expect(denied.code, denied.what).not.toBe(0);
    expect(denied.stderr).toMatch(/Certificate read failed/);
    expect(existsSync(file('cert-02.pem'))).toBe(false);
    expect(seen.some((x) => x.header === '00B00000' && x.sw === '6982')).toBe(true);
    expect(served.card.pin('sign').remaining).toBe(5);

    const sign = await readCert('02', ['--verify-pin', '--auth-id', '02', '--pin', pin('sign')]);
    expect(hex(sign.raw)).toBe(hex(new X509Certificate(profile.certificates.sign!).raw));
    expect(served.card.pin('sign').remaining).toBe(5);
  });

  it('pkcs11-tool lists one slot per JPKI PIN in reader 0, among the slots of every reader', async () => {
    const all = await slots();
    const r0 = all.filter((s) => s.reader === R0);
    expect(r0.map((s) => s.token)).toEqual([AUTH_TOKEN, SIGN_TOKEN]);
    // The empty second reader is a slot too (why --slot-index must not be hard-coded).
    expect(all.some((s) => s.reader === vpcdReaderName(1) && s.token === undefined)).toBe(true);
    for (const s of r0) expect(s.flags).toBe('login required, token initialized, PIN initialized');
  });

  it('pkcs11-tool signs with the auth key (SHA256-RSA-PKCS); openssl and node:crypto verify it with the certificate read from the card', async () => {
    const slot = await slotOf(AUTH_TOKEN);
    const data = file('data');
    writeFileSync(data, randomBytes(1000));
    await ok('pkcs11-tool', signArgs(slot, pin('auth'), '01', data, file('sig')));
    const cert = await readCert('01');
    await ok('openssl', ['x509', '-in', file('cert-01.pem'), '-pubkey', '-noout', '-out', file('pub-01.pem')]);
    const v = await ok('openssl', ['dgst', '-sha256', '-verify', file('pub-01.pem'), '-signature', file('sig'), data]);
    expect(v.stdout.trim()).toBe('Verified OK');
    const sig = readFileSync(file('sig'));
    expect(sig.length).toBe(256);
    expect(verify('sha256', readFileSync(data), cert.publicKey, sig)).toBe(true);
    expect(verify('sha256', Buffer.from('other data'), cert.publicKey, sig)).toBe(false);
    expect(served.card.pin('auth').remaining).toBe(3);
  });

  it('pkcs11-tool signs with the signature key on the signature slot (context-specific login); openssl verifies it', async () => {
    const slot = await slotOf(SIGN_TOKEN);
    const data = file('data2');
    writeFileSync(data, randomBytes(333));
    await ok('pkcs11-tool', signArgs(slot, pin('sign'), '02', data, file('sig2')));
    const cert = await readCert('02', ['--verify-pin', '--auth-id', '02', '--pin', pin('sign')]);
    await ok('openssl', ['x509', '-in', file('cert-02.pem'), '-pubkey', '-noout', '-out', file('pub-02.pem')]);
    expect((await ok('openssl', ['dgst', '-sha256', '-verify', file('pub-02.pem'), '-signature', file('sig2'), data])).stdout.trim()).toBe('Verified OK');
    expect(verify('sha256', readFileSync(data), cert.publicKey, readFileSync(file('sig2')))).toBe(true);
    expect(served.card.pin('sign').remaining).toBe(5);
  });

  it('pkcs11-tool --test --login passes (GET CHALLENGE, signatures, the VERIFY query after a login)', async () => {
    const slot = await slotOf(AUTH_TOKEN);
    seen.length = 0;
    const r = await ok('pkcs11-tool', ['--module', OPENSC_MODULE, '--slot', slot, '--test', '--login', '--pin', pin('auth')]);
    // The card saw GET CHALLENGE and answered it, and the VERIFY query after the successful login
    // answered 63 C3 (docs/card.md §10.5: a card answering 90 00 there makes OpenSC abort).
    expect(seen.filter((x) => x.header === '00840000').map((x) => x.sw)).toContain('9000');
    const verifies = seen.filter((x) => x.header === '00200080');
    const login = verifies.findIndex((x) => x.hasData && x.sw === '9000');
    expect(login).toBeGreaterThanOrEqual(0);
    expect(
      verifies
        .slice(login + 1)
        .filter((x) => !x.hasData)
        .map((x) => x.sw),
    ).toContain('63C3');
    expect(r.stdout).toMatch(/C_SeedRandom\(\) and C_GenerateRandom\(\):[\s\S]*seems to be OK/);
    expect(r.stdout).toMatch(/SHA256-RSA-PKCS: OK/);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('No errors');
    expect(served.card.pin('auth').remaining).toBe(3);
  });

  it('a wrong PIN through pkcs11-tool --login is a spent try in the card and its state file; three lock the PIN and the right one is refused', async () => {
    const slot = await slotOf(AUTH_TOKEN);
    const badLogin = () => run('pkcs11-tool', ['--module', OPENSC_MODULE, '--slot', slot, '--login', '--pin', '0000', '--list-objects']);
    expect(pin('auth') === '0000', "the test card's auth PIN must not be the wrong PIN used here").toBe(false);
    const listPins = async () => parsePins((await ok('pkcs15-tool', ['--reader', '0', '--list-pins'])).stdout);

    let r = await badLogin();
    expect(r.code, r.what).not.toBe(0);
    expect(r.stderr).toMatch(/C_Login failed: rv = CKR_PIN_INCORRECT/);
    expect(served.card.pin('auth').remaining).toBe(2);
    expect(stateRemaining('auth')).toBe(2);
    expect((await listPins()).get('User Authentication PIN')!.triesLeft).toBe(2);

    for (const left of [1, 0]) {
      r = await badLogin();
      expect(r.stderr, r.what).toMatch(/CKR_PIN_INCORRECT/);
      expect(served.card.pin('auth').remaining).toBe(left);
      expect(stateRemaining('auth')).toBe(left);
    }
    const pins = await listPins();
    expect(pins.get('User Authentication PIN')!.triesLeft).toBe(0);
    expect(pins.get('Digital Signature PIN')!.triesLeft).toBe(5);
    expect((await slots()).find((s) => s.id === slot)!.flags).toMatch(/user PIN locked/);

    // The right PIN is refused now: the card answers 69 84 without comparing (OpenSC 0.23 reports
    // that as CKR_GENERAL_ERROR), and the counter stays at 0.
    seen.length = 0;
    r = await run('pkcs11-tool', signArgs(slot, pin('auth'), '01', file('data'), file('sig-locked')));
    expect(r.code, r.what).not.toBe(0);
    expect(r.stderr).toMatch(/C_Login failed/);
    expect(seen.filter((x) => x.header === '00200080' && x.hasData).map((x) => x.sw)).toEqual(['6984']);
    expect(seen.some((x) => x.header.startsWith('802A'))).toBe(false);
    expect(existsSync(file('sig-locked'))).toBe(false);
    expect(served.card.pin('auth').remaining).toBe(0);
    expect(stateRemaining('auth')).toBe(0);
  });
});
