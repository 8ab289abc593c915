/**
 * The physical-card guard (harness/targets/guard.ts) on the in-process simulator: it refuses PIN
 * commands at or below the floor without sending them, lets the lab's own value through with exactly
 * 2 tries left (never 1), honours the destructive opt-in only when both the run and the scenario give
 * it, names the PIN, reads counters without spending a try, and reports unexpected drops.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../simulator/apdu/codec.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { type ApduChannel, inProcessChannel } from '../../simulator/card/channel.ts';
import type { PinId } from '../../simulator/pin/pin.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { cmd } from '../../harness/flows/apdu.ts';
import { AID } from '../../harness/flows/card-ref.ts';
import { DEFAULT_FLOOR, type GuardOptions, GuardRefused, GuardedChannel, isGuarded, PIN_KEYS, UnexpectedDrop } from '../../harness/targets/guard.ts';
import { PIN_KINDS, type PinKind } from '../../harness/scenario/model.ts';
import { testCard, testProfile } from '../support/card.ts';

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const sw = (r: Uint8Array) => toHex(r.subarray(r.length - 2));

/** A card whose PINs start at the given tries left. */
async function cardWith(remaining: Partial<Record<PinKind, number>>): Promise<{ card: VirtualCard; profile: Profile }> {
  const base = await testProfile();
  const pins = { ...base.pins };
  for (const [k, n] of Object.entries(remaining)) pins[k as PinKind] = { ...pins[k as PinKind], remaining: n };
  const profile = { ...base, pins };
  return { card: testCard(profile), profile };
}

/** The inner channel, recording every command that reached the card. */
function recording(card: VirtualCard): ApduChannel & { sent: Uint8Array[] } {
  const inner = inProcessChannel(card);
  const sent: Uint8Array[] = [];
  return {
    sent,
    transmit: (c) => {
      sent.push(c);
      return inner.transmit(c);
    },
  };
}

function guarded(card: VirtualCard, options: GuardOptions = {}) {
  const inner = recording(card);
  return { inner, guard: new GuardedChannel(inner, options) };
}

/** Selects the PIN's key through the guard, as a client does. */
async function selectPin(ch: ApduChannel, pin: PinKind): Promise<void> {
  expect(sw(await ch.transmit(cmd.selectAp(AID[PIN_KEYS[pin].app])))).toBe('9000');
  expect(sw(await ch.transmit(cmd.selectEf(PIN_KEYS[pin].fid)))).toBe('9000');
}

/** A value of the PIN's format that is not the card's value. */
const wrongValue = (p: Profile, pin: PinKind) => {
  const right = p.pins[pin].value;
  return pin === 'sign' ? (right === 'WRONG1' ? 'WRONG2' : 'WRONG1') : right === '0000' ? '9999' : '0000';
};

/** The guarded commands, on the current key (P2 80). */
const guardedShapes = (p: Profile, pin: PinKind): Array<[string, Uint8Array]> => [
  ['VERIFY with a wrong value', cmd.verify(ascii(wrongValue(p, pin)))],
  ['CHANGE REFERENCE DATA', fromHex(`00240180 04 ${toHex(ascii('1234'))}`)],
  ['CHANGE KEY', fromHex(`80320080 04 ${toHex(ascii('1234'))}`)],
  ['RESET RETRY COUNTER', fromHex('002C0380')],
];

const isCommand = (c: Uint8Array, ins: number) => c.length >= 2 && c[1] === ins;

describe('which commands the guard checks', () => {
  it('VERIFY with data, CHANGE REFERENCE DATA, RESET RETRY COUNTER and CHANGE KEY; not the query, not other commands', () => {
    expect(isGuarded(fromHex('0020008004 31323334'))).toBe(true);
    expect(isGuarded(fromHex('00240180 04 31323334'))).toBe(true);
    expect(isGuarded(fromHex('002C0380'))).toBe(true);
    expect(isGuarded(fromHex('80320080 04 31323334'))).toBe(true);
    expect(isGuarded(fromHex('00200080'))).toBe(false);
    expect(isGuarded(fromHex('00B00000 04'))).toBe(false);
    expect(isGuarded(fromHex('0020'))).toBe(false); // too short to reach a key: the card answers 67 00
    expect(isGuarded(fromHex('0020008004 3132'))).toBe(true); // Lc lying: may still carry a value
  });
});

describe('the floor', () => {
  for (const pin of PIN_KINDS) {
    for (const tries of [DEFAULT_FLOOR, 1, 0]) {
      it(`refuses every PIN command on the ${PIN_KEYS[pin].label} with ${tries} ${tries === 1 ? 'try' : 'tries'} left, without sending it`, async () => {
        const { card, profile } = await cardWith({ [pin]: tries });
        const { inner, guard } = guarded(card);
        await selectPin(guard, pin);
        for (const [what, command] of guardedShapes(profile, pin)) {
          const before = inner.sent.length;
          const err = await guard.transmit(command).catch((e: unknown) => e);
          expect(err, what).toBeInstanceOf(GuardRefused);
          const tryWord = tries === 1 ? 'try' : 'tries';
          expect((err as Error).message).toMatch(new RegExp(`^guard refused: ${PIN_KEYS[pin].label} has ${tries} ${tryWord} left`));
          expect((err as GuardRefused).exitCode).toBe(4);
          expect(err).toMatchObject({ pin, triesLeft: tries });
          // only the query reached the card
          expect(inner.sent.slice(before).map((c) => toHex(c))).toEqual(['00200080']);
          expect(card.pin(pin).remaining).toBe(tries);
        }
        expect(guard.events.filter((e) => e.type === 'refused')).toHaveLength(4);
      });
    }
  }

  it('forwards a wrong VERIFY above the floor, and the card spends the try', async () => {
    const { card, profile } = await cardWith({});
    const { inner, guard } = guarded(card);
    await selectPin(guard, 'auth');
    expect(sw(await guard.transmit(cmd.verify(ascii(wrongValue(profile, 'auth')))))).toBe('63C2');
    expect(card.pin('auth').remaining).toBe(2);
    expect(inner.sent.filter((c) => isCommand(c, 0x20) && c.length > 4)).toHaveLength(1);
    expect(guard.events.at(-1)).toMatchObject({ type: 'allowed', key: 'auth PIN', triesLeft: 3, why: 'above the floor' });
    // and the next one, now at the floor, is refused
    await expect(guard.transmit(cmd.verify(ascii(wrongValue(profile, 'auth'))))).rejects.toThrow('guard refused: auth PIN has 2 tries left');
    expect(card.pin('auth').remaining).toBe(2);
  });

  it('the sign password (5 tries) is refused at 2 and allowed at 3', async () => {
    const { card, profile } = await cardWith({ sign: 3 });
    const { guard } = guarded(card);
    await selectPin(guard, 'sign');
    expect(sw(await guard.transmit(cmd.verify(ascii(wrongValue(profile, 'sign')))))).toBe('63C2');
    await expect(guard.transmit(cmd.verify(ascii(wrongValue(profile, 'sign'))))).rejects.toThrow('guard refused: sign password has 2 tries left');
    expect(card.pin('sign').remaining).toBe(2);
  });

  it('follows the SFI short form P2 = 80 + SFI: the query uses the same P2 and names that PIN, not the current EF', async () => {
    const { card, profile } = await cardWith({ sign: 2 });
    const { inner, guard } = guarded(card);
    await selectPin(guard, 'auth'); // the current EF is the auth PIN, at 3 tries
    await expect(guard.transmit(fromHex(`0020009B 06 ${toHex(ascii(wrongValue(profile, 'sign')))}`))).rejects.toThrow(
      'guard refused: sign password has 2 tries left',
    );
    expect(toHex(inner.sent.at(-1)!)).toBe('0020009B');
    expect(card.pin('sign').remaining).toBe(2);
  });

  it('keeps a query and its command together: a command sent meanwhile waits', async () => {
    const { card, profile } = await cardWith({});
    const { inner, guard } = guarded(card);
    await selectPin(guard, 'auth');
    const from = inner.sent.length;
    const [verify, select] = await Promise.all([
      guard.transmit(cmd.verify(ascii(wrongValue(profile, 'auth')))),
      guard.transmit(cmd.selectEf(PIN_KEYS.sign.fid)),
    ]);
    expect([sw(verify), sw(select)]).toEqual(['63C2', '9000']);
    expect(inner.sent.slice(from).map((c) => toHex(c.subarray(0, 4)))).toEqual(['00200080', '00200080', '00A4020C']);
    expect(card.pin('sign').remaining).toBe(5);
  });

  it('refuses when the query does not answer 63 Cx (no key selected), without sending the command', async () => {
    const { card } = await cardWith({});
    const { inner, guard } = guarded(card);
    expect(sw(await guard.transmit(cmd.selectAp(AID.jpki)))).toBe('9000');
    await expect(guard.transmit(cmd.verify(ascii('1234')))).rejects.toThrow(/^guard refused: cannot read the tries left/);
    expect(inner.sent.filter((c) => isCommand(c, 0x20) && c.length > 4)).toHaveLength(0);
  });
});

describe("the lab's own value", () => {
  for (const pin of PIN_KINDS) {
    it(`may be sent to the ${PIN_KEYS[pin].label} with exactly 2 tries left (restoring the counter), never with 1`, async () => {
      const { card, profile } = await cardWith({ [pin]: 2 });
      const labPins = Object.fromEntries(PIN_KINDS.map((k) => [k, profile.pins[k].value]));
      const { guard } = guarded(card, { labPins });
      await selectPin(guard, pin);
      expect(sw(await guard.transmit(cmd.verify(ascii(profile.pins[pin].value))))).toBe('9000');
      expect(card.pin(pin).remaining).toBe(PIN_KEYS[pin].max);
      expect(guard.events.at(-1)).toMatchObject({ type: 'allowed', why: 'lab value', triesLeft: 2, command: '00 20 00 80 <redacted>' });

      const one = (await cardWith({ [pin]: 1 })).card;
      const g1 = guarded(one, { labPins }).guard;
      await selectPin(g1, pin);
      await expect(g1.transmit(cmd.verify(ascii(profile.pins[pin].value)))).rejects.toThrow(`guard refused: ${PIN_KEYS[pin].label} has 1 try left`);
      expect(one.pin(pin).remaining).toBe(1);
      // what the guard records never holds a PIN value
      expect(JSON.stringify([guard.events, g1.events])).not.toContain(profile.pins[pin].value);
    });
  }

  it("is the value of the PIN selected: the auth PIN's value sent to the sign password at 2 is refused", async () => {
    const { card, profile } = await cardWith({ sign: 2 });
    const { guard } = guarded(card, { labPins: { auth: profile.pins.auth.value, sign: profile.pins.sign.value } });
    await selectPin(guard, 'sign');
    await expect(guard.transmit(cmd.verify(ascii(profile.pins.auth.value)))).rejects.toThrow('guard refused: sign password has 2 tries left');
    expect(card.pin('sign').remaining).toBe(2);
  });

  it('a wrong lab value at 2 costs one try, then the guard refuses it at 1: the PIN never locks', async () => {
    const { card, profile } = await cardWith({ auth: 2 });
    const { guard } = guarded(card, { labPins: { auth: wrongValue(profile, 'auth') } });
    await selectPin(guard, 'auth');
    expect(sw(await guard.transmit(cmd.verify(ascii(wrongValue(profile, 'auth')))))).toBe('63C1');
    await expect(guard.transmit(cmd.verify(ascii(wrongValue(profile, 'auth'))))).rejects.toThrow('guard refused: auth PIN has 1 try left');
    expect(card.pin('auth').remaining).toBe(1);
  });
});

describe('the destructive opt-in', () => {
  const cases: Array<[string, GuardOptions, boolean]> = [
    ['the run and the scenario', { allowDestructive: true, destructive: true }, true],
    ['the run only', { allowDestructive: true, destructive: false }, false],
    ['the scenario only', { allowDestructive: false, destructive: true }, false],
  ];
  for (const [who, options, allowed] of cases) {
    it(`given by ${who}: the last try ${allowed ? 'is' : 'is not'} spent`, async () => {
      const { card, profile } = await cardWith({ auth: 1 });
      const { guard } = guarded(card, options);
      await selectPin(guard, 'auth');
      const send = guard.transmit(cmd.verify(ascii(wrongValue(profile, 'auth'))));
      if (allowed) {
        expect(sw(await send)).toBe('63C0');
        expect(card.pin('auth').remaining).toBe(0);
      } else {
        await expect(send).rejects.toThrow('guard refused: auth PIN has 1 try left');
        expect(card.pin('auth').remaining).toBe(1);
      }
    });
  }

  it('setScenario switches it per scenario', async () => {
    const { card, profile } = await cardWith({ auth: 1 });
    const { guard } = guarded(card, { allowDestructive: true });
    await selectPin(guard, 'auth');
    await expect(guard.transmit(cmd.verify(ascii(wrongValue(profile, 'auth'))))).rejects.toBeInstanceOf(GuardRefused);
    guard.setScenario({ destructive: true });
    expect(sw(await guard.transmit(cmd.verify(ascii(wrongValue(profile, 'auth')))))).toBe('63C0');
  });
});

describe('counters and drops', () => {
  it('reads every PIN without spending a try', async () => {
    const { card } = await cardWith({ auth: 2, sign: 4, juki: 0 });
    const { inner, guard } = guarded(card);
    const counters = await guard.counters();
    expect(counters).toEqual({
      sign: { triesLeft: 4, max: 5, locked: false },
      auth: { triesLeft: 2, max: 3, locked: false },
      juki: { triesLeft: 0, max: 3, locked: true },
      kenmen: { triesLeft: 3, max: 3, locked: false },
      common: { triesLeft: 3, max: 3, locked: false },
    });
    expect(inner.sent.filter((c) => isCommand(c, 0x20)).every((c) => c.length === 4)).toBe(true);
    expect([card.pin('auth').remaining, card.pin('sign').remaining, card.pin('juki').remaining]).toEqual([2, 4, 0]);
  });

  it('restores the selection it knew: a VERIFY after counters() still goes to the key the client selected', async () => {
    const { card } = await cardWith({});
    const { inner, guard } = guarded(card);
    await selectPin(guard, 'sign');
    await guard.counters();
    expect(inner.sent.slice(-2).map((c) => toHex(c))).toEqual([toHex(cmd.selectAp(AID.jpki)), toHex(cmd.selectEf(PIN_KEYS.sign.fid))]);
    expect(sw(await guard.transmit(cmd.verify()))).toBe('63C5');
  });

  it('leaves out a PIN whose application the card does not have', async () => {
    const { card } = await cardWith({});
    const inner = inProcessChannel(card);
    // a channel on which the 住基 AP does not exist
    const noJuki: ApduChannel = {
      transmit: (c) => (toHex(c).includes(toHex(AID.juki)) ? Promise.resolve(fromHex('6A82')) : inner.transmit(c)),
    };
    const counters = await new GuardedChannel(noJuki).counters();
    expect(Object.keys(counters).sort()).toEqual(['auth', 'common', 'kenmen', 'sign']);
  });

  it('checkDrop names the PIN whose count dropped unexpectedly, with its tries left', () => {
    const guard = new GuardedChannel({ transmit: async () => fromHex('9000') });
    const c = (auth: number, sign: number) => ({
      auth: { triesLeft: auth, max: 3, locked: auth === 0 },
      sign: { triesLeft: sign, max: 5, locked: sign === 0 },
    });
    expect(guard.checkDrop(c(3, 5), c(3, 5))).toBeUndefined();
    expect(guard.checkDrop(c(2, 5), c(3, 5))).toBeUndefined(); // a rise is no drop
    expect(guard.checkDrop(c(3, 5), c(2, 5), { auth: { triesLeft: 2 } })).toBeUndefined();
    expect(guard.checkDrop(c(1, 5), c(0, 5), { auth: { locked: true } })).toBeUndefined();
    const drop = guard.checkDrop(c(3, 5), c(2, 4), { auth: { triesLeft: 2 } });
    expect(drop).toBeInstanceOf(UnexpectedDrop);
    expect(drop!.exitCode).toBe(4);
    expect(drop!.message).toBe('guard stopped the run: sign password dropped from 5 to 4 (has 4 tries left), which the scenario did not expect');
    expect(drop!.drops).toEqual([{ pin: 'sign', before: 5, after: 4 }]);
    expect(guard.checkDrop(c(3, 5), c(1, 5), { auth: { triesLeft: 2 } })!.message).toContain('auth PIN dropped from 3 to 1 (has 1 try left)');
    expect(guard.events.filter((e) => e.type === 'drop')).toHaveLength(2);
  });
});

describe('properties', () => {
  const ALL_PINS: PinId[] = ['sign', 'auth', 'juki', 'kenmen', 'common', 'textA', 'textB', 'faceA', 'faceB', 'faceBirth'];

  /**
   * Runs of commands a client could send: selecting a PIN's key (AP then EF), other selections,
   * queries and every guarded shape on P2 80 and the short forms, plus malformed ones.
   */
  const commands = (profile: Profile): fc.Arbitrary<Uint8Array[]> => {
    const values = fc.oneof(
      fc.constantFrom(...PIN_KINDS.map((k) => profile.pins[k].value), '0000', '9999', 'WRONG1', 'ABC123'),
      fc.string({ minLength: 1, maxLength: 20 }),
    );
    // mostly the P2 forms that reach a PIN: 80 (current EF) and 80 + the SFI of a PIN key
    const p2 = fc.oneof(
      { weight: 3, arbitrary: fc.constant(0x80) },
      { weight: 3, arbitrary: fc.constantFrom(...PIN_KINDS.map((k) => 0x80 | PIN_KEYS[k].fid)) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    );
    const withData = (head: number[], v: string) => {
      const data = Buffer.from(v, 'latin1').subarray(0, 255);
      return Uint8Array.from([...head, data.length, ...data]);
    };
    const one = (a: fc.Arbitrary<Uint8Array>) => a.map((c) => [c]);
    const action = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...PIN_KINDS).map((k) => [cmd.selectAp(AID[PIN_KEYS[k].app]), cmd.selectEf(PIN_KEYS[k].fid)]) },
      { weight: 1, arbitrary: one(fc.constantFrom(...Object.values(AID)).map((aid) => cmd.selectAp(aid))) },
      { weight: 1, arbitrary: one(fc.integer({ min: 0x0001, max: 0x001e }).map((fid) => cmd.selectEf(fid))) },
      { weight: 1, arbitrary: one(p2.map((p) => Uint8Array.of(0x00, 0x20, 0x00, p))) },
      { weight: 4, arbitrary: one(fc.tuple(p2, values).map(([p, v]) => withData([0x00, 0x20, 0x00, p], v))) },
      { weight: 1, arbitrary: one(fc.tuple(p2, values).map(([p, v]) => withData([0x00, 0x24, 0x01, p], v))) },
      { weight: 1, arbitrary: one(fc.tuple(p2, values).map(([p, v]) => withData([0x80, 0x32, 0x00, p], v))) },
      {
        weight: 1,
        arbitrary: one(
          fc
            .tuple(fc.constantFrom(0x20, 0x24, 0x2c, 0x32), fc.uint8Array({ minLength: 0, maxLength: 12 }))
            .map(([i, rest]) => Uint8Array.from([0x00, i, ...rest])),
        ),
      },
    );
    return fc.array(action, { maxLength: 25 }).map((runs) => runs.flat());
  };

  it('no sequence of commands takes a key below the floor (or lower at all once at it) without the destructive opt-in', async () => {
    const base = await testProfile();
    const labPins = Object.fromEntries(PIN_KINDS.map((k) => [k, base.pins[k].value]));
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          Object.fromEntries(PIN_KINDS.map((k) => [k, fc.integer({ min: 0, max: Math.min(PIN_KEYS[k].max, DEFAULT_FLOOR + 1) })])) as Record<
            PinKind,
            fc.Arbitrary<number>
          >,
        ),
        commands(base),
        fc.boolean(),
        async (start, commands, scenarioDestructive) => {
          const profile = { ...base, pins: Object.fromEntries(PIN_KINDS.map((k) => [k, { ...base.pins[k], remaining: start[k] }])) as Profile['pins'] };
          const card = testCard(profile);
          // only one of the two opt-ins at most: never both
          const guard = new GuardedChannel(inProcessChannel(card), { labPins, allowDestructive: !scenarioDestructive, destructive: scenarioDestructive });
          for (const c of commands) {
            const before = Object.fromEntries(ALL_PINS.map((id) => [id, card.pin(id).remaining]));
            try {
              await guard.transmit(c);
            } catch (err) {
              if (!(err instanceof GuardRefused)) throw err;
            }
            for (const id of ALL_PINS) {
              const after = card.pin(id).remaining;
              if (after < before[id]) expect(before[id], `${id} dropped from ${before[id]} to ${after} after ${toHex(c)}`).toBeGreaterThan(DEFAULT_FLOOR);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
