/**
 * The `pcsc` target (harness/targets/pcsc.ts). Its input checks (reader regex, allow-list, the lab's PIN
 * values) run without PC/SC. The rest runs against the simulator standing in for a physical card in
 * vpcd's second reader ("Virtual PCD 00 01", served with harness/serve/serve.ts): a regex matching
 * none or two readers, a card not allowed, an allowed card read through the guard, and a guarded
 * refusal that leaves the card's counter where it was.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { cmd } from '../../harness/flows/apdu.ts';
import { AID, EF } from '../../harness/flows/card-ref.ts';
import { vpcdReaderName } from '../../harness/pcsc/index.ts';
import { type RunningServe, startServe } from '../../harness/serve/serve.ts';
import { GuardRefused, UnexpectedDrop } from '../../harness/targets/guard.ts';
import { CardNotAllowed, PcscTarget, type PcscTargetOptions } from '../../harness/targets/pcsc.ts';
import { authCertHash, testCard, testProfile, labPinEnv } from '../support/card.ts';
import { inputErrorOf } from '../support/errors.ts';
import { acquirePcscLock, describePcsc } from '../support/pcsc-env.ts';

const dir = mkdtempSync(join(tmpdir(), 'myna-hil-pcsc-target-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** PIN values of the profile as the lab's environment gives them. */

describe('pcsc target input (no PC/SC needed)', () => {
  const env = { MYNA_HIL_PIN_AUTH: '1234', MYNA_HIL_PIN_SIGN: 'ABC123', MYNA_HIL_PIN_JUKI: '5678', MYNA_HIL_PIN_KENMEN: '2468' };
  const make = (o: Partial<PcscTargetOptions>) => new PcscTarget({ reader: 'x', env, ...o });

  it('has module clients only: no counters, behaviour, events, faults, issuer or exec clients on a physical card', () => {
    expect([...make({}).capabilities]).toEqual(['module-clients']);
  });

  it('a reader regex that does not compile is an input error naming it', () => {
    expect(inputErrorOf(() => make({ reader: 'Virtual (PCD' })).message).toMatch(/^--reader Virtual \(PCD: not a regular expression/);
  });

  it('allow-list values and files: 64 hex digits, comments allowed; a bad line names file:line', () => {
    expect(inputErrorOf(() => make({ allowCards: ['abc'] })).message).toMatch(/^--allow-card: "abc" is not a SHA-256/);
    const good = file('allow-good.txt', `# lab cards\n${'A'.repeat(64)}  # card 1\n\n`);
    expect(() => make({ allowCardsFile: good })).not.toThrow();
    const bad = file('allow-bad.txt', `${'a'.repeat(64)}\nnot-a-hash\n`);
    expect(inputErrorOf(() => make({ allowCardsFile: bad })).message).toMatch(new RegExp(`^${bad}:2: "not-a-hash" is not a SHA-256`));
    expect(inputErrorOf(() => make({ allowCardsFile: join(dir, 'absent.txt') })).message).toContain('no such file');
  });

  it('PIN values come from the environment or a --pins file (the file wins); common defaults to juki', async () => {
    const t = make({});
    expect((t as unknown as { pins: Record<string, string> }).pins).toEqual({ auth: '1234', sign: 'ABC123', juki: '5678', kenmen: '2468', common: '5678' });
    const kv = file('pins.env', '# lab card 1\nauth=4321\nMYNA_HIL_PIN_COMMON="1357"\n');
    expect((make({ pinsFile: kv }) as unknown as { pins: Record<string, string> }).pins).toMatchObject({ auth: '4321', common: '1357', sign: 'ABC123' });
    const json = file('pins.json', JSON.stringify({ auth: '1111', sign: 'XYZ789', juki: '2222', kenmen: '3333' }));
    expect((new PcscTarget({ reader: 'x', env: {}, pinsFile: json }) as unknown as { pins: Record<string, string> }).pins).toEqual({
      auth: '1111',
      sign: 'XYZ789',
      juki: '2222',
      kenmen: '3333',
      common: '2222',
    });
  });

  it('a missing, malformed or mistyped PIN value is an input error that names the source and never the value', () => {
    expect(inputErrorOf(() => new PcscTarget({ reader: 'x', env: { MYNA_HIL_PIN_AUTH: '1234' } })).message).toBe(
      "the pcsc target needs the lab's value of each PIN of the card; missing: sign, juki, kenmen " +
        '(fix: set MYNA_HIL_PIN_SIGN, MYNA_HIL_PIN_JUKI, MYNA_HIL_PIN_KENMEN, or give --pins <file> with sign=…, juki=…, kenmen=…)',
    );
    const short = inputErrorOf(() => make({ env: { ...env, MYNA_HIL_PIN_AUTH: '98765' } })).message;
    expect(short).toMatch(/^the environment variable MYNA_HIL_PIN_AUTH: the auth PIN must be 4 digits/);
    expect(short).not.toContain('98765');
    const lower = file('lower.env', 'sign=abc12345\n');
    const m = inputErrorOf(() => make({ pinsFile: lower })).message;
    expect(m).toMatch(new RegExp(`^${lower}:1: the sign PIN must be`));
    expect(m).not.toContain('abc12345');
    const numeric = file('numeric.json', '{"auth": 1234}');
    expect(inputErrorOf(() => make({ pinsFile: numeric })).message).toBe(`${numeric} field auth: the value of auth must be a string (fix: quote it, "0123")`);
    const broken = file('broken.json', '{"auth": "9876" "sign": "Q"}');
    const b = inputErrorOf(() => make({ pinsFile: broken })).message;
    expect(b).toMatch(/not valid JSON/);
    expect(b).not.toContain('9876');
    const unknown = file('unknown.env', 'pin=1234\n');
    expect(inputErrorOf(() => make({ pinsFile: unknown })).message).toMatch(new RegExp(`^${unknown}:1: unknown key "pin"`));
  });
});

describePcsc('pcsc target against the simulator in "Virtual PCD 00 01"', () => {
  const SLOT = 1;
  const READER = vpcdReaderName(SLOT);
  let release: () => void;
  let serve: RunningServe;
  let card: VirtualCard;
  let profile: Profile;
  const targets: PcscTarget[] = [];
  const target = (o: Partial<PcscTargetOptions> = {}) => {
    const t = new PcscTarget({ reader: `^${READER}$`, env: labPinEnv(profile), allowCards: [authCertHash(profile)], timeoutMs: 20_000, ...o });
    targets.push(t);
    return t;
  };

  beforeAll(async () => {
    release = await acquirePcscLock();
    profile = await testProfile();
    card = testCard(profile);
    serve = await startServe({ card: 'in-test', slot: SLOT, control: join(dir, 'control.sock') }, () => card, { out: () => {}, err: () => {} });
  }, 300_000);

  // a target holds the card exclusively: release it after each test, passed or not
  afterEach(async () => {
    for (const t of targets.splice(0)) await t.close();
  });

  afterAll(async () => {
    await serve?.stop();
    release?.();
  });

  it('a reader regex matching no reader: an environment error listing the readers', async () => {
    const why = await target({ reader: 'no reader is called this' }).check();
    expect(why).toMatch(/^--reader \/no reader is called this\/ matches no reader; it must match exactly one \(readers: .*"Virtual PCD 00 00"/);
    expect(why).toContain(`"${READER}"`);
  });

  it('a reader regex matching two readers: an environment error naming both', async () => {
    const why = await target({ reader: 'Virtual PCD' }).check();
    expect(why).toMatch(/^--reader \/Virtual PCD\/ matches 2 readers \("Virtual PCD 00 00", "Virtual PCD 00 01"\); it must match exactly one/);
  });

  it('a card whose auth certificate is not in the allow-list is refused before any PIN command, naming its SHA-256', async () => {
    const t = target({ allowCards: ['0'.repeat(64)] });
    expect(await t.check()).toBeUndefined();
    const before = card.pin('auth').remaining;
    const err = await t.prepare({}, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardNotAllowed);
    expect((err as CardNotAllowed).exitCode).toBe(4);
    expect((err as Error).message).toContain(`has SHA-256 ${authCertHash(profile)}, which is not in the allow-list`);
    expect(card.pin('auth').remaining).toBe(before);
  });

  it('an allowed card: read through the guarded channel, counters without spending a try, the lab PIN values', async () => {
    const t = target();
    const prepared = await t.prepare({}, dir);
    expect(prepared.reader).toBe(READER);
    expect(prepared.pinValues.auth).toBe(profile.pins.auth.value);
    expect(prepared.trace).toEqual([]); // the identity check is not the scenario's
    const ch = prepared.channel;
    expect(toHex(await ch.transmit(cmd.selectAp(AID.jpki)))).toBe('9000');
    expect(toHex(await ch.transmit(cmd.selectEf(EF.jpki.tokenInfo)))).toBe('9000');
    const info = await ch.transmit(cmd.readBinary(0, 160));
    expect(toHex(info.subarray(-2))).toBe('9000');
    expect(info.length).toBe(162);
    expect(prepared.trace.map((e) => toHex(e.command))).toEqual([
      toHex(cmd.selectAp(AID.jpki)),
      toHex(cmd.selectEf(EF.jpki.tokenInfo)),
      toHex(cmd.readBinary(0, 160)),
    ]);
    expect(await prepared.counters()).toMatchObject({ auth: { triesLeft: 3, max: 3, locked: false }, sign: { triesLeft: 5, max: 5, locked: false } });
    expect(card.pin('auth').remaining).toBe(3);
  });

  it('the guard lets a wrong PIN through above the floor and refuses the next one at it, leaving the counter at 2', async () => {
    const t = target();
    const prepared = await t.prepare({}, dir);
    const ch = prepared.channel;
    const wrong = new Uint8Array(Buffer.from(profile.pins.auth.value === '0000' ? '9999' : '0000'));
    expect(toHex(await ch.transmit(cmd.selectAp(AID.jpki)))).toBe('9000');
    expect(toHex(await ch.transmit(cmd.selectEf(EF.jpki.authPin)))).toBe('9000');
    const before = await prepared.counters(); // restores the selection: the VERIFY below is the auth PIN's
    expect(toHex(await ch.transmit(cmd.verify(wrong)))).toBe('63C2');
    // a drop the step did not expect stops the run, naming the PIN and its tries left
    const drop = t.checkDrop(before, await prepared.counters(), {});
    expect(drop).toBeInstanceOf(UnexpectedDrop);
    expect(drop!.message).toBe('guard stopped the run: auth PIN dropped from 3 to 2 (has 2 tries left), which the scenario did not expect');
    expect(t.checkDrop(before, await prepared.counters(), { auth: { triesLeft: 2 } })).toBeUndefined();
    const err = await ch.transmit(cmd.verify(wrong)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuardRefused);
    expect((err as Error).message).toMatch(/^guard refused: auth PIN has 2 tries left/);
    expect(card.pin('auth').remaining).toBe(2);
    // the refused command is not in the trace: it never reached the card
    expect(prepared.trace.filter((e) => e.command[1] === 0x20 && e.command.length > 4)).toHaveLength(1);
    // the next scenario starts on a reset card; the lab's value at exactly 2 is allowed and restores it
    const next = await t.prepare({}, dir);
    expect(toHex(await next.channel.transmit(cmd.selectAp(AID.jpki)))).toBe('9000');
    expect(toHex(await next.channel.transmit(cmd.selectEf(EF.jpki.authPin)))).toBe('9000');
    expect(toHex(await next.channel.transmit(cmd.verify(new Uint8Array(Buffer.from(profile.pins.auth.value)))))).toBe('9000');
    expect(card.pin('auth').remaining).toBe(3);
  });
});
