/**
 * No PIN value in any output (client-requirements CLIENT-006): the APDU trace line, the serve log,
 * error messages and `myna-hil card show`. PIN values are searched as ASCII and as hex, with or
 * without separators, in either case; in a logged command, no two PIN bytes may follow the header.
 *
 * Coincidences are ruled out by construction: a 4-digit PIN never starts with 6 or 9 (it would read
 * as a status word, `9000`), CLA, P1 and P2 are never an ASCII letter or digit (so
 * a command's header cannot spell a PIN's bytes), timing figures are cut from the serve log, only
 * the lines produced while a PIN was in flight are searched, and `card show` is also compared with
 * the output for the same card with other PIN values (a leak-free output cannot depend on them).
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sendControl } from '../../harness/serve/control.ts';
import { startServe } from '../../harness/serve/serve.ts';
import { toHex } from '../../simulator/apdu/codec.ts';
import { formatExchange, redactCommand } from '../../simulator/apdu/trace.ts';
import { reinitSignPassword, setPin } from '../../simulator/issuer/issuer.ts';
import { USER_PINS } from '../../simulator/pin/pin.ts';
import { generateProfile } from '../../simulator/profile/generate.ts';
import { saveProfile } from '../../simulator/profile/io.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { cli } from '../support/cli.ts';
import { newCard, testProfile } from '../support/card.ts';
import { FakeVpcdServer } from '../support/fake-vpcd.ts';
import { FaultyStore } from '../support/stores.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'myna-nopin-'));
  dirs.push(d);
  return d;
}

/** Where `pin` shows in `text` (ASCII, or hex with '', ' ' or ':' between bytes, any case), or undefined. */
function findPin(text: string, pin: string): string | undefined {
  const t = text.toUpperCase();
  const bytes = Buffer.from(pin, 'latin1');
  const forms = [pin.toUpperCase(), ...['', ' ', ':'].map((sep) => toHex(bytes, sep).toUpperCase())];
  const hit = forms.find((f) => t.includes(f));
  return hit === undefined ? undefined : `"${hit}" (PIN ${pin.length} characters) in: ${text}`;
}

/**
 * Where any two consecutive bytes of `pin` show as hex in a logged command after its 4-byte header
 * (where the data would be: a part of a PIN is a leak too), or undefined.
 */
function findPinPart(log: string, pin: string): string | undefined {
  const bytes = Buffer.from(pin, 'latin1');
  for (const [, rest] of log.matchAll(/> (?:[0-9A-F]{2} ){3}[0-9A-F]{2}(.*)$/gm)) {
    for (let i = 0; i + 2 <= bytes.length; i++) {
      const pair = bytes.subarray(i, i + 2);
      const hit = ['', ' '].map((sep) => toHex(pair, sep)).find((f) => rest.toUpperCase().includes(f));
      if (hit) return `"${hit}" (bytes ${i + 1}-${i + 2} of the PIN) after the header in: ${log}`;
    }
  }
  return undefined;
}

function expectNoPin(text: string, pin: string): void {
  expect(findPin(text, pin)).toBeUndefined();
  expect(findPinPart(text, pin)).toBeUndefined();
}

// ---- generators ---------------------------------------------------------------------------------

const hasLetterAndDigit = (s: string) => /[A-Z]/.test(s) && /\d/.test(s);
/** The real shapes: 4 digits (not like a status word), or a sign password (6-16 of A-Z 0-9 with a letter and a digit). */
const pinValue = fc.oneof(fc.stringMatching(/^[0-578]\d{3}$/), fc.stringMatching(/^[A-Z0-9]{6,16}$/).filter(hasLetterAndDigit));

/** A header byte that is not an ASCII letter or digit: a header cannot spell a PIN. */
const notAlnum = fc.oneof(fc.constantFrom(0x00, 0x80, 0x81, 0x0c, 0x84), fc.nat(255)).filter((b) => !/[0-9A-Za-z]/.test(String.fromCharCode(b)));

/** What comes between the header and the PIN: well-formed, lying, extended or malformed. */
const before = (len: number) =>
  fc.oneof(
    fc.constant([len]), // short Lc
    fc.nat(255).map((lc) => [lc]), // Lc lying
    fc.constant([0x00, len >> 8, len & 0xff]), // extended Lc
    fc.constant([0x00]), // a lone 00: the malformed VERIFY that leaked two digits
    fc.constant([]), // no Lc at all
  );

/** A PIN-carrying command around `pin`, any shape, with trailing bytes (Le, junk). */
const pinCommand = (pin: string) =>
  fc
    .tuple(notAlnum, fc.constantFrom(0x20, 0x24, 0x2c, 0x32), notAlnum, notAlnum, before(pin.length), fc.uint8Array({ maxLength: 6 }))
    .map(([cla, ins, p1, p2, pre, post]) => Uint8Array.from([cla, ins, p1, p2, ...pre, ...Buffer.from(pin, 'latin1'), ...post]));

const pinAndCommand = pinValue.chain((pin) => pinCommand(pin).map((cmd) => ({ pin, cmd })));

/** A response that echoes the command (as a test card may): its data must not be logged either. */
const echo = (cmd: Uint8Array) => Uint8Array.from([...cmd, 0x90, 0x00]);

// ---- (a) the trace line -------------------------------------------------------------------------

describe('no PIN in the APDU trace', () => {
  it('formatExchange and redactCommand never show a PIN, whatever the command shape (property)', () => {
    fc.assert(
      fc.property(pinAndCommand, ({ pin, cmd }) => {
        expectNoPin(redactCommand(cmd), pin);
        expectNoPin(formatExchange(cmd, echo(cmd), 0.25), pin);
      }),
      { numRuns: 3000 },
    );
  });
});

// ---- (b) + (c) the serve log, card faults, issuer errors -------------------------------------------

describe('no PIN in the serve log or in error messages', () => {
  it('serve logs VERIFY / CHANGE / RESET RETRY COUNTER / CHANGE KEY of any shape without the PIN, card faults included (property)', async () => {
    const server = new FakeVpcdServer();
    await server.listen();
    // Every state write fails once the card is built: the card answers 65 81 (memory failure) and
    // serve logs the fault while the PIN is in flight.
    const store = new FaultyStore();
    const card = await newCard('adult', { store });
    store.failing = true;
    const savesBuilt = store.saves;
    const failedSaves = () => store.saves - savesBuilt;
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l), now: () => new Date('2001-02-03T04:05:06.007Z') };
    const running = await startServe({ card: 'p.json', slot: 0, basePort: server.port, quickAck: false, control: join(tempDir(), 'ctl.sock') }, () => card, io);
    try {
      const peer = await server.peer(0);
      await peer.getAtr();
      /** Sends one command with `pin` in it; the lines logged meanwhile, with the card's timing (digits) cut. */
      const send = async (cmd: Uint8Array): Promise<string> => {
        const from = out.length;
        await peer.request(cmd);
        const lines = out.slice(from).map((l) => l.replace(/ \d+\.\d{3} ms$/, ''));
        expect(lines.length).toBeGreaterThanOrEqual(2); // the exchange was logged
        return lines.join('\n');
      };
      // JPKI AP, EF 0018: a VERIFY 00 20 00 80 now reaches the auth PIN, and its counter write fails.
      await peer.request(Uint8Array.of(0x00, 0xa4, 0x04, 0x0c, 0x0a, 0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01));
      await peer.request(Uint8Array.of(0x00, 0xa4, 0x02, 0x0c, 0x02, 0x00, 0x18));
      const verify = Uint8Array.of(0x00, 0x20, 0x00, 0x80, 0x04, ...Buffer.from('7294'));
      const faulted = await send(verify);
      expect(failedSaves()).toBe(1);
      expect(faulted).toMatch(
        /warning: card fault, answered 6581 \(MEMORY_FAILURE\): the card state could not be saved, nothing was changed: EIO: i\/o error writing the state/,
      );
      expectNoPin(faulted, '7294');

      await fc.assert(
        fc.asyncProperty(pinAndCommand, async ({ pin, cmd }) => {
          expectNoPin(await send(cmd), pin);
        }),
        { numRuns: 300 },
      );
    } finally {
      await running.stop();
      await server.stop();
    }
  });

  it('issuer errors name the PIN and the rule, never the refused value (property)', async () => {
    const card = await newCard();
    /** Values no PIN accepts: lower-case letters with digits, or 5-8 digits. */
    const refused = fc.oneof(
      fc.stringMatching(/^[a-z0-9]{5,20}$/).filter((s) => /[a-z]/.test(s) && /\d/.test(s)),
      fc.stringMatching(/^\d{5,8}$/),
    );
    fc.assert(
      fc.property(fc.constantFrom(...USER_PINS), refused, (id, value) => {
        let message = '';
        expect(() => {
          try {
            setPin(card, id, value);
          } catch (e) {
            message = (e as Error).message;
            throw e;
          }
        }).toThrow(/does not match its format/);
        expectNoPin(message, value);
      }),
      { numRuns: 500 },
    );
    expect(() => reinitSignPassword(card, 'QX7ZJ9W4')).toThrow(/only after the auth PIN was verified/);
    try {
      reinitSignPassword(card, 'QX7ZJ9W4');
    } catch (e) {
      expectNoPin((e as Error).message, 'QX7ZJ9W4');
    }
  });

  it('generating a card with a bad PIN names the option, not the value', async () => {
    for (const [option, value] of [
      ['signPin', 'qx7zj9w4vk'],
      ['signPin', 'QX7ZJ9W4VK3M8P2TR'],
      ['authPin', '72941'],
      ['jukiPin', 'x729'],
      ['kenmenPin', '729'],
      ['commonPin', '7z94'],
    ] as const) {
      const err = await generateProfile({ [option]: value }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.name, `${option} ${value}`).toBe('InputError');
      expectNoPin(err!.message, value);
    }
  });

  it('serve refuses a bad PIN over the control socket without echoing it, in the reply or the log', async () => {
    const server = new FakeVpcdServer();
    await server.listen();
    const out: string[] = [];
    const control = join(tempDir(), 'ctl.sock');
    const card = await newCard();
    const running = await startServe({ card: 'p.json', slot: 0, basePort: server.port, quickAck: false, control }, () => card, {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    });
    try {
      const from = out.length;
      for (const [command, body] of [
        ['issuer/set-pin', { pin: 'auth', value: '72941' }],
        ['issuer/set-pin', { pin: 'sign', value: 'qx7zj9w4vk' }],
        ['reinit-sign-password', { value: 'QX7ZJ9W4VK' }],
      ] as const) {
        const reply = await sendControl(control, command, { body });
        expect(reply.ok, JSON.stringify(reply)).toBe(false);
        expectNoPin(JSON.stringify(reply), body.value);
        expectNoPin(out.slice(from).join('\n'), body.value);
      }
    } finally {
      await running.stop();
      await server.stop();
    }
  });
});

// ---- (d) card show ------------------------------------------------------------------------------

describe('no PIN in `myna-hil card show`', () => {
  /** The test card with other PIN values: the sign password and the 4-digit PINs all differ. */
  const withPins = (p: Profile, sign: string, four: string[]): Profile => {
    const q = structuredClone(p);
    q.pins.sign.value = sign;
    (['auth', 'juki', 'kenmen', 'common'] as const).forEach((id, i) => {
      if (q.pins[id]) q.pins[id].value = four[i];
    });
    return q;
  };

  /** Where PIN values would be: the PIN section of the text, the `pins` object of the JSON. */
  const pinPart = (out: string, json: boolean): string => {
    if (json) return JSON.stringify((JSON.parse(out) as Profile).pins);
    const from = out.indexOf('PINs (values not shown)');
    const to = out.indexOf('Keys (private parts not shown)');
    expect(from).toBeGreaterThan(0);
    expect(to).toBeGreaterThan(from);
    return out.slice(from, to);
  };

  it('prints the same text and JSON whatever the PIN values, and none of them', async () => {
    const base = await testProfile();
    const dir = tempDir();
    const cards = [
      { sign: 'QX7ZJ9W4VK', four: ['7294', '8061', '5937', '6482'] },
      { sign: 'ZK4WQ8', four: ['9175', '6028', '7359', '8640'] },
    ].map((pins, i) => {
      const path = join(dir, `card${i}.json`);
      saveProfile(path, withPins(base, pins.sign, pins.four));
      return { path, values: [pins.sign, ...pins.four] };
    });
    const outputs: string[][] = [];
    for (const c of cards) {
      const runs = [await cli('card', 'show', c.path), await cli('card', 'show', c.path, '--json')];
      runs.forEach((r, json) => {
        expect(r.code, r.stderr).toBe(0);
        // The sign password (6+ characters) is searched everywhere; a 4-digit value could occur by
        // chance in a certificate, so it is searched where PINs would be (the comparison below covers the rest).
        expectNoPin(r.stdout + r.stderr, c.values[0]);
        for (const v of c.values.slice(1)) expectNoPin(pinPart(r.stdout, json === 1), v);
      });
      outputs.push(runs.map((r) => (r.stdout + r.stderr).replaceAll(c.path, '<path>')));
    }
    expect(outputs[1]).toEqual(outputs[0]);
  });
});
