/**
 * Profile files: errors that name the file, the place and the fix; versions and migrations; atomic
 * saving; redaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonErrorOffset, loadProfile, parseProfile, redactProfile, saveProfile, type Migration } from '../../simulator/profile/io.ts';
import { InputError } from '../../simulator/errors.ts';
import type { PinKind, Profile } from '../../simulator/profile/schema.ts';
import fc from 'fast-check';
import { clone, profileOf } from './support.ts';
import { inputErrorOf } from '../support/errors.ts';

let dir: string;
let base: Profile;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'myna-profile-'));
  base = await profileOf('adult');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const json = (p: unknown) => JSON.stringify(p, null, 2);

describe('loading', () => {
  it('round-trips a saved profile', () => {
    const file = join(dir, 'round.json');
    saveProfile(file, base);
    expect(loadProfile(file)).toEqual(base);
  });

  it('a missing file names the path', () => {
    const file = join(dir, 'nope.json');
    expect(inputErrorOf(() => loadProfile(file)).message).toBe(
      `${file}: cannot read the card profile: no such file (fix: give the path of a file made by \`myna-hil card new\`)`,
    );
  });

  it('a JSON syntax error names file:line:column', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{\n  "format": "myna-hil/card-profile",\n  "version": }\n');
    expect(inputErrorOf(() => loadProfile(file)).message).toBe(
      `${file}:3:14: not valid JSON: Unexpected token '}' (fix: correct the JSON there, or regenerate the card with \`myna-hil card new\`)`,
    );
    // the text around the error (which may hold a PIN value) is not quoted
    writeFileSync(file, '{"pins": {"auth": {"value": "9876" x}}}');
    const m = inputErrorOf(() => loadProfile(file)).message;
    expect(m).toMatch(/:1:36: not valid JSON: /); // the x
    expect(m).not.toContain('9876');
  });

  it('jsonErrorOffset finds the first error, or -1', () => {
    const cases: Array<[string, number]> = [
      ['{"a":}', 5],
      ['{"a":1,}', 7],
      ['[1 2]', 3],
      ['{"a":tru}', 5],
      ['{} x', 3],
      ['"x\ny"', 2],
      ['', 0],
      ['{"a":[1,{"b":null}]}', -1],
    ];
    for (const [text, at] of cases) {
      expect([text, jsonErrorOffset(text)]).toEqual([text, at]);
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      expect(parses).toBe(at === -1);
    }
  });

  it('a schema error names the file and the field path, with a fix', () => {
    const p = clone(base) as unknown as { holder: { myNumber: string } };
    p.holder.myNumber = '123456789012';
    const m = inputErrorOf(() => parseProfile(json(p), 'card.json')).message;
    expect(m).toBe('card.json: field holder.myNumber: My Number check digit is wrong (fix: the check digit after 12345678901 is 8)');
    const q = clone(base) as unknown as { pins: { sign: { remaining: number } } };
    q.pins.sign.remaining = 99;
    expect(inputErrorOf(() => parseProfile(json(q), 'card.json')).message).toMatch(
      /^card\.json: field pins\.sign\.remaining: .* \(fix: correct the field, or regenerate/,
    );
    const r = clone(base) as unknown as { holder: Record<string, unknown> };
    delete r.holder.address;
    expect(inputErrorOf(() => parseProfile(json(r), 'card.json')).message).toMatch(/^card\.json: field holder\.address: /);
  });

  it("a PIN value that breaks its kind's rule is refused, naming file, field and rule, never the value", () => {
    const cases: Array<[PinKind, string, string]> = [
      ['auth', '12', '4 digits'],
      ['sign', 'abc', '6-16 of A-Z and 0-9 with at least one letter and one digit'],
      ['sign', 'A1BCDEFGHIJKLMNOP', '6-16 of A-Z and 0-9 with at least one letter and one digit'],
      ['sign', 'abcd1234', '6-16 of A-Z and 0-9 with at least one letter and one digit'],
      ['kenmen', '１２３４', '4 digits'],
    ];
    for (const [kind, value, rule] of cases) {
      const p = clone(base);
      p.pins[kind].value = value;
      expect(inputErrorOf(() => parseProfile(json(p), 'card.json')).message).toBe(
        `card.json: field pins.${kind}.value: the ${kind} PIN must be ${rule}, ASCII characters only (fix: correct the field, or regenerate the card with \`myna-hil card new\`)`,
      );
    }
  });

  // The rule restated independently of simulator/pin/rules.ts, as docs/pin-rules.md §1 words it.
  const SIGN_RULE = /^(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*[0-9])[A-Z0-9]{6,16}$/;
  const FOUR_RULE = /^[0-9]{4}$/;
  const pinish = fc.oneof(
    fc.stringMatching(/^[0-9]{1,6}$/),
    fc.stringMatching(/^[A-Za-z0-9]{4,18}$/),
    fc.string({ maxLength: 18 }),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.constantFrom('１２３４', '1234 ', ' 1234', '12\n4', 'ABC１２3'),
  );

  it("property: a profile loads exactly when every PIN value follows its kind's rule", () => {
    fc.assert(
      fc.property(fc.constantFrom<PinKind>('sign', 'auth', 'juki', 'kenmen', 'common'), pinish, (kind, value) => {
        const p = clone(base);
        p.pins[kind].value = value;
        const valid = (kind === 'sign' ? SIGN_RULE : FOUR_RULE).test(value);
        let error: unknown;
        try {
          parseProfile(json(p), 'card.json');
        } catch (e) {
          error = e;
        }
        if (valid) {
          expect(error).toBeUndefined();
          return;
        }
        expect(error).toBeInstanceOf(InputError);
        expect((error as Error).message).toMatch(new RegExp(`^card\\.json: field pins\\.${kind}\\.value: the ${kind} PIN must be `));
      }),
      { numRuns: 300 },
    );
  });

  it('a misspelled key in a hand-edited profile is an error, not silently dropped', () => {
    const p = clone(base) as unknown as { behaviour: Record<string, unknown> };
    p.behaviour.signKeepVerified = false;
    expect(inputErrorOf(() => parseProfile(json(p), 'card.json')).message).toMatch(/^card\.json: field behaviour: Unrecognized key: "signKeepVerified"/);
  });

  it('a file that is not a profile says so', () => {
    expect(inputErrorOf(() => parseProfile('{"format":"something-else","version":1}', 'x.json')).message).toMatch(
      /^x\.json: field format: this is not a myna-hil card profile \(it has format "something-else"; a profile has "format": "myna-hil\/card-profile"\)/,
    );
    expect(inputErrorOf(() => parseProfile('[1,2]', 'x.json')).message).toMatch(/^x\.json: this is not a myna-hil card profile \(the file holds a JSON array/);
  });

  it('a sign key without a sign certificate is refused', () => {
    const p = clone(base) as unknown as { certificates: Record<string, unknown> };
    delete p.certificates.sign;
    expect(inputErrorOf(() => parseProfile(json(p), 'c.json')).message).toMatch(/^c\.json: field certificates\.sign: missing while keys\.sign is present/);
  });
});

describe('versions and migrations', () => {
  const withVersion = (v: unknown) => json({ ...clone(base), version: v });

  it('a newer version says it was made by a newer myna-hil', () => {
    expect(inputErrorOf(() => parseProfile(withVersion(2), 'new.json')).message).toBe(
      'new.json: field version: profile version 2 was made by a newer myna-hil; this one reads versions up to 1 (fix: upgrade myna-hil)',
    );
  });

  it('an older version with no migration fails clearly', () => {
    expect(inputErrorOf(() => parseProfile(withVersion(0), 'old.json')).message).toMatch(
      /^old\.json: field version: profile version 0 is older than any this myna-hil can migrate \(it reads version 1; no migration from version 0\) \(fix: regenerate/,
    );
  });

  it('a missing or non-integer version is explained', () => {
    const p = clone(base) as unknown as Record<string, unknown>;
    delete p.version;
    expect(inputErrorOf(() => parseProfile(json(p), 'v.json')).message).toMatch(/^v\.json: field version: is missing \(fix: /);
    expect(inputErrorOf(() => parseProfile(withVersion('1'), 'v.json')).message).toMatch(/^v\.json: field version: is "1", not an integer/);
  });

  it('the migration table is applied step by step', () => {
    // A made-up version 0 that called the holder "person": migrating renames it.
    const v0 = { ...clone(base), version: 0 } as Record<string, unknown>;
    v0.person = v0.holder;
    delete v0.holder;
    const migrations = new Map<number, Migration>([[0, ({ person, ...rest }) => ({ ...rest, holder: person, version: 1 })]]);
    expect(parseProfile(json(v0), 'v0.json', migrations)).toEqual(base);
  });
});

describe('saving', () => {
  it('is atomic: the file is complete, mode 0600, and no temporary file is left behind', () => {
    const sub = mkdtempSync(join(dir, 'save-'));
    const file = join(sub, 'card.json');
    const big = clone(base);
    big.comment = 'x'.repeat(100_000);
    saveProfile(file, big);
    saveProfile(file, base); // a shorter file replaces the longer one entirely
    expect(readdirSync(sub)).toEqual(['card.json']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(base);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses an invalid profile and leaves the previous file untouched', () => {
    const sub = mkdtempSync(join(dir, 'save-'));
    const file = join(sub, 'card.json');
    saveProfile(file, base);
    const before = readFileSync(file, 'utf8');
    const bad = clone(base);
    bad.holder.myNumber = '123456789012';
    expect(inputErrorOf(() => saveProfile(file, bad)).message).toMatch(/field holder\.myNumber/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(readdirSync(sub)).toEqual(['card.json']);
  });
});

describe('redaction', () => {
  it('replaces PIN values and private keys, keeps everything else', async () => {
    const p = clone(base);
    p.pins.sign.value = 'QZ7XK9WV'; // a value that appears nowhere else
    const r = redactProfile(p);
    const text = json(r);
    expect(text).not.toContain('QZ7XK9WV');
    expect(text).not.toContain('PRIVATE KEY');
    expect(Object.values(r.pins).every((x) => x.value === '<redacted>')).toBe(true);
    expect(r.keys.auth).toMatch(/^<private key, \d{3,4} bytes>$/);
    expect(r.issuer.key).toMatch(/^<private key, \d{3,4} bytes>$/);
    expect(r.certificates).toEqual(p.certificates);
    expect(r.holder).toEqual(p.holder);
    expect(p.pins.sign.value).toBe('QZ7XK9WV'); // the original is untouched
    const minor = redactProfile(await profileOf('minor'));
    expect('sign' in minor.keys && minor.keys.sign !== undefined).toBe(false);
  });
});
