/**
 * PIN data is masked at capture: whatever PIN values a card has and whatever PIN-carrying commands
 * reach it (VERIFY, CHANGE REFERENCE DATA, CHANGE KEY, RESET RETRY COUNTER, well formed or not), the
 * session file holds none of the values in any encoding the repository checks for (ASCII word, hex
 * with or without separators: harness/clients/output.ts containsPin).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { isValidSignPassword } from '../../simulator/pin/rules.ts';
import { containsPin } from '../../harness/clients/output.ts';
import { cmd } from '../../harness/flows/apdu.ts';
import { AID, EF } from '../../harness/flows/card-ref.ts';
import { SessionCapture } from '../../harness/session/capture.ts';
import { FileSink } from '../../harness/session/recorder.ts';
import { HostedCard } from '../../harness/targets/card-host.ts';
import { testProfile } from '../support/card.ts';
import { cli } from '../support/cli.ts';
import { InputError } from '../../simulator/errors.ts';
import { saveProfile } from '../../simulator/profile/io.ts';

/**
 * 4-digit values that are not also honest words of every session file: a status word (`9000`, `6982`
 * in a response) or a year (the header's createdAt). containsPin would find those whatever the masking.
 */
const digits4 = fc.stringMatching(/^\d{4}$/).filter((v) => !/^(?:9000|6\d{3}|19\d\d|20\d\d)$/.test(v));
const signPassword = fc.stringMatching(/^[A-Z0-9]{6,16}$/).filter(isValidSignPassword);
const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const withData = (head: number[], data: Uint8Array) => Uint8Array.from([...head, data.length, ...data]);

describe('session masking at capture', () => {
  let base: Profile;
  const dir = mkdtempSync(join(tmpdir(), 'myna-hil-mask-'));
  beforeAll(async () => {
    base = await testProfile();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('no PIN value of any kind appears in the session file, whatever PIN commands the card saw', () => {
    let run = 0;
    fc.assert(
      fc.property(
        fc.record({ auth: digits4, juki: digits4, kenmen: digits4, common: digits4, sign: signPassword, newSign: signPassword, newAuth: digits4 }),
        fc.boolean(),
        (v, extended) => {
          const profile = structuredClone(base);
          for (const k of ['auth', 'juki', 'kenmen', 'common', 'sign'] as const) profile.pins[k] = { ...profile.pins[k], value: v[k] };
          const host = new HostedCard(profile, 'property');
          const file = join(dir, `s${run++}.jsonl`);
          const capture = new SessionCapture(new FileSink(file), { target: 'sim', harnessVersion: 'test' });
          host.record(capture);
          const send = (c: Uint8Array) => host.faulty.transmit(c, 'client');
          send(cmd.selectAp(AID.jpki));
          send(cmd.selectEf(EF.jpki.authPin));
          send(cmd.verify(ascii(v.auth)));
          send(withData([0x00, 0x24, 0x01, 0x80], ascii(v.newAuth)));
          send(cmd.selectEf(EF.jpki.signPin));
          send(cmd.verify(ascii(v.sign)));
          send(withData([0x00, 0x24, 0x01, 0x80], ascii(v.newSign)));
          send(withData([0x00, 0x2c, 0x00, 0x80], ascii(v.kenmen)));
          send(withData([0x80, 0x32, 0x00, 0x80], ascii(v.juki)));
          // a malformed VERIFY (extended length) carries the value just the same
          if (extended) send(Uint8Array.from([0x00, 0x20, 0x00, 0x80, 0x00, 0x00, v.common.length, ...ascii(v.common)]));
          else send(withData([0x00, 0x20, 0x00, 0x81], ascii(v.common)));
          capture.close();
          const text = readFileSync(file, 'utf8');
          const values = [v.auth, v.juki, v.kenmen, v.common, v.sign, v.newSign, v.newAuth];
          // the check itself finds a value written in the clear (so a pass means something)
          expect(containsPin(toHex(cmd.verify(ascii(v.sign))), [v.sign])).toBe(true);
          expect(text.split('\n').filter((l) => l.includes('"masked":true'))).toHaveLength(7);
          return !containsPin(text, values);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('session files are private (mode 0600: they hold the holder’s certificates)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'myna-hil-mode-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a new file, and an existing world-readable one it replaces, end up 0600', () => {
    const fresh = join(dir, 'new.jsonl');
    const old = join(dir, 'old.jsonl');
    writeFileSync(old, 'an earlier session\n', { mode: 0o644 });
    chmodSync(old, 0o644); // whatever the umask
    for (const file of [fresh, old]) {
      const sink = new FileSink(file);
      sink.close();
      expect(statSync(file).mode & 0o777, file).toBe(0o600);
    }
    expect(readFileSync(old, 'utf8')).toBe(''); // replaced, not appended to
  });

  it('a session file that cannot be created is an InputError naming it and the fix; serve --record exits 2, no stack', async () => {
    const bad = join(dir, 'no-such-dir', 's.jsonl');
    expect(() => new FileSink(bad)).toThrow(InputError);
    expect(() => new FileSink(bad)).toThrow(`${bad}: cannot write the session file (ENOENT) (fix:`);
    // a vpcd port nothing listens on: the recording fails before the transport starts
    const card = join(dir, 'card.json');
    saveProfile(card, await testProfile());
    const r = await cli('serve', '--card', card, '--vpcd-port', '1', '--record', bad);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain(`${bad}: cannot write the session file`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
