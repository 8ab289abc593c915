/**
 * A card never holds a PIN value its kind's rule forbids (docs/card.md §4.1, pin-rules.md 1), wherever
 * the value comes from: the profile, the state file, the issuer (CLI and serve's control socket).
 * The error names the file, the field and the rule, never the value. Also: a profile whose key or
 * certificate is garbage names the profile file and the field.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendControl } from '../../harness/serve/control.ts';
import { startServe } from '../../harness/serve/serve.ts';
import { buildCard } from '../../harness/load-card.ts';
import { setPin } from '../../simulator/issuer/issuer.ts';
import type { UserPinId } from '../../simulator/pin/pin.ts';
import { saveProfile } from '../../simulator/profile/io.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { FileStore } from '../../simulator/state/store.ts';
import { cli } from '../support/cli.ts';
import { FakeVpcdServer } from '../support/fake-vpcd.ts';
import { testCard, testProfile, tx, verifyCmd } from '../support/card.ts';
import { inputErrorOf } from '../support/errors.ts';

/** Values that break their kind's rule, one of each way. */
const BAD: Array<[UserPinId, string, string]> = [
  ['auth', '12', 'too short'],
  ['sign', 'abc', 'letters only, lower case, too short'],
  ['sign', 'ABCDEFGH12345678X', '17 characters'],
  ['sign', 'abc123', 'lower-case letters'],
  ['sign', 'ABCDEFGH', 'no digit'],
  ['juki', '１２３４', 'full-width digits'],
  ['kenmen', '12345', 'five digits'],
  ['common', '12a4', 'a letter'],
];
const RULE = { sign: /the sign PIN must be 6-16 of A-Z and 0-9 with at least one letter and one digit/, other: /PIN must be 4 digits, ASCII characters only/ };
const ruleOf = (id: UserPinId) => (id === 'sign' ? RULE.sign : RULE.other);
const JPKI = '00A4040C0AD392F000260100000001';

let profile: Profile;
let dir: string;
beforeAll(async () => {
  profile = await testProfile();
  dir = mkdtempSync(join(tmpdir(), 'myna-pin-values-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `f` with a FileStore on `path` and lets go of the file's lock afterwards (one holder at a time). */
function withStore<T>(path: string, f: (store: FileStore) => T): T {
  const store = new FileStore(path);
  try {
    return f(store);
  } finally {
    store.close();
  }
}

/** A state file for `profile` whose `id` PIN holds `value`. */
function stateWith(name: string, id: UserPinId, value: string): string {
  const path = join(dir, `${name}.state.json`);
  withStore(path, (store) => testCard(profile, { store }));
  const doc = JSON.parse(readFileSync(path, 'utf8'));
  doc.pins[id].value = value;
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

describe('PIN values are checked on load', () => {
  it.each(BAD)('a state file with the %s PIN %j (%s) is refused, naming the file, the field and the rule', (id, value) => {
    const path = stateWith(`bad-${id}-${Buffer.from(value).toString('hex')}`, id, value);
    const e = inputErrorOf(() => withStore(path, (store) => testCard(profile, { store })));
    expect(e.message.startsWith(`${path}: field pins.${id}.value: `)).toBe(true);
    expect(e.message).toMatch(ruleOf(id));
    expect(e.message).not.toContain(value);
  });

  it('a valid value in the state file is loaded and opens the PIN', () => {
    const path = stateWith('good', 'auth', '9876');
    const card = testCard(profile, { store: new FileStore(path) });
    tx(card, JPKI);
    tx(card, '00A4020C020018');
    expect(tx(card, verifyCmd('9876')).swHex).toBe('9000');
  });

  it.each(BAD)('a profile built in code with the %s PIN %j (%s) is refused, naming the source', (id, value) => {
    const p = structuredClone(profile);
    p.pins[id].value = value;
    const e = inputErrorOf(() => testCard(p, { source: 'made.json' }));
    expect(e.message.startsWith(`made.json: field pins.${id}.value: `)).toBe(true);
    expect(e.message).toMatch(ruleOf(id));
    expect(e.message).not.toContain(value);
  });

  it('the CLI refuses a card whose state file holds a bad value with exit 2, naming file and field, not the value', async () => {
    const profilePath = join(dir, 'card.json');
    saveProfile(profilePath, profile);
    const statePath = stateWith('cli', 'auth', '１２３４');
    const r = await cli('issuer', 'status', '--card', profilePath, '--state', statePath);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${statePath}: field pins.auth.value: the auth PIN must be 4 digits, ASCII characters only`);
    expect(r.stderr + r.stdout).not.toContain('１２３４');
  });
});

describe('issuer set-pin: the same rule, and nothing changes when it is broken', () => {
  it.each(BAD)('setPin refuses the %s PIN %j (%s); the old value and counter stay', (id, value) => {
    const card = testCard(profile);
    const before = card.pin(id).remaining;
    const e = inputErrorOf(() => setPin(card, id, value));
    expect(e.message).toContain(`new ${id} PIN does not match its format (${card.pin(id).rule.format})`);
    expect(e.message).not.toContain(value);
    expect(card.pin(id).remaining).toBe(before);
  });

  it('myna-hil issuer set-pin on a card at rest: exit 2, the state file unchanged', async () => {
    const profilePath = join(dir, 'card-rest.json');
    saveProfile(profilePath, profile);
    const statePath = join(dir, 'rest.state.json');
    withStore(statePath, (store) => testCard(profile, { store }));
    const before = readFileSync(statePath, 'utf8');
    const r = await cli('issuer', 'set-pin', '--card', profilePath, '--state', statePath, '--pin', 'sign', '--value', 'abc123');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('new sign PIN does not match its format (6-16 of A-Z and 0-9 with at least one letter and one digit)');
    expect(r.stderr).not.toContain('abc123');
    expect(readFileSync(statePath, 'utf8')).toBe(before);
  });

  it("serve's control socket: issuer/set-pin with full-width digits is refused and the PIN keeps its value", async () => {
    const server = new FakeVpcdServer();
    await server.listen();
    const out: string[] = [];
    const sock = join(dir, 'ctl.sock');
    const running = await startServe({ card: 'p', slot: 0, basePort: server.port, control: sock }, () => testCard(profile), {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    });
    try {
      const reply = await sendControl(sock, 'issuer/set-pin', { body: { pin: 'auth', value: '１２３４' } });
      expect(reply).toMatchObject({ ok: false, error: 'new auth PIN does not match its format (4 digits)' });
      const card = running.card as ReturnType<typeof testCard>;
      tx(card, JPKI);
      tx(card, '00A4020C020018');
      expect(tx(card, verifyCmd(profile.pins.auth.value)).swHex).toBe('9000');
      expect(out.join('\n')).not.toContain('１２３４');
    } finally {
      await running.stop();
      await server.stop();
    }
  });
});

describe('a garbage key or certificate names the profile file and the field', () => {
  const garbage = (label: string) => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;

  it.each([
    [
      'keys.auth',
      (p: Profile) => {
        p.keys.auth = garbage('PRIVATE KEY');
      },
    ],
    [
      'keys.common',
      (p: Profile) => {
        p.keys.common = garbage('PRIVATE KEY');
      },
    ],
    [
      'certificates.auth',
      (p: Profile) => {
        p.certificates.auth = garbage('CERTIFICATE');
      },
    ],
    [
      'certificates.signCa',
      (p: Profile) => {
        p.certificates.signCa = garbage('CERTIFICATE');
      },
    ],
  ])('%s', (field, spoil) => {
    const p = structuredClone(profile);
    spoil(p);
    const path = join(dir, `garbage-${field}.json`);
    writeFileSync(path, JSON.stringify(p));
    const e = inputErrorOf(() => buildCard(path));
    expect(e.message.startsWith(`${path}: field ${field}: `), e.message).toBe(true);
  });
});
