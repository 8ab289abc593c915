/**
 * Model-based test: random sequences of VERIFY / query / CHANGE / SELECT / reset / power against a
 * tiny model of the PIN rules (pin-rules.md, spec 4.2-4.3, 9), for all user PINs at once, so that the
 * independence of their counters is exercised too.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand, toHex } from '../../simulator/apdu/codec.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { isValidSignPassword, type Profile } from '../../simulator/profile/schema.ts';
import { testCard, testProfile, tx } from '../support/card.ts';

type Id = 'sign' | 'auth' | 'kenmen' | 'juki' | 'common';
const IDS: Id[] = ['sign', 'auth', 'kenmen', 'juki', 'common'];
const WHERE: Record<Id, { df: string; aid: string; fid: string; change: 'CRD' | 'CK'; max: number }> = {
  sign: { df: 'jpki', aid: 'D392F000260100000001', fid: '001B', change: 'CRD', max: 5 },
  auth: { df: 'jpki', aid: 'D392F000260100000001', fid: '0018', change: 'CRD', max: 3 },
  kenmen: { df: 'text', aid: 'D3921000310001010408', fid: '0011', change: 'CRD', max: 3 },
  juki: { df: 'juki', aid: 'D3921000310001010401', fid: '001C', change: 'CK', max: 3 },
  common: { df: 'common', aid: 'D3921000310001010100', fid: '001C', change: 'CK', max: 3 },
};
const DFS = ['jpki', 'text', 'juki', 'common'] as const;
const AIDS: Record<string, string> = { jpki: WHERE.sign.aid, text: WHERE.kenmen.aid, juki: WHERE.juki.aid, common: WHERE.common.aid };

interface Model {
  pins: Record<Id, { value: string; remaining: number }>;
  df: string | null;
  ef: Id | null;
  verified: Set<Id>;
}

const validNew = (id: Id, v: string) => (id === 'sign' ? isValidSignPassword(v) : /^\d{4}$/.test(v));
const sw = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
const hexOf = (s: string) => toHex(Buffer.from(s, 'latin1'));

type Cmd = fc.Command<Model, VirtualCard>;

/** After every command: counters, lock states and verified flags of all PINs equal the model's. */
function sameAsModel(m: Model, card: VirtualCard, after: string): void {
  for (const i of IDS) {
    expect(card.pin(i).remaining, `${i} counter after ${after}`).toBe(m.pins[i].remaining);
    expect(card.isVerified(i), `${i} verified after ${after}`).toBe(m.verified.has(i));
  }
}

/** Wraps a command so that the model comparison runs after it. */
function checked(c: Cmd): Cmd {
  return {
    check: (m) => c.check(m),
    run: (m, card) => {
      c.run(m, card);
      sameAsModel(m, card, c.toString());
    },
    toString: () => c.toString(),
  };
}

class SelectDf implements Cmd {
  constructor(readonly df: string) {}
  check = () => true;
  run(m: Model, card: VirtualCard) {
    expect(tx(card, `00A4040C0A${AIDS[this.df]}`).swHex).toBe('9000');
    m.df = this.df;
    m.ef = null;
    m.verified.clear();
  }
  toString = () => `SELECT DF ${this.df}`;
}

class SelectPin implements Cmd {
  constructor(readonly id: Id) {}
  check = () => true;
  run(m: Model, card: VirtualCard) {
    const w = WHERE[this.id];
    const r = tx(card, `00A4020C02${w.fid}`);
    // juki and common both have 001C: the one of the current DF is selected.
    const here = IDS.find((i) => WHERE[i].df === m.df && WHERE[i].fid === w.fid);
    if (here) {
      expect(r.swHex).toBe('9000');
      m.ef = here;
    } else expect(r.swHex).toBe('6A82');
  }
  toString = () => `SELECT EF ${WHERE[this.id].fid} (${this.id})`;
}

class Verify implements Cmd {
  constructor(
    readonly correct: boolean,
    readonly wrong: string,
  ) {}
  check = () => true;
  run(m: Model, card: VirtualCard) {
    const value = m.ef && this.correct ? m.pins[m.ef].value : this.wrong;
    const r = tx(card, `00200080${value.length.toString(16).padStart(2, '0')}${hexOf(value)}`);
    if (!m.ef) return expect(r.swHex).toBe(m.df ? '6986' : '6986');
    const p = m.pins[m.ef];
    if (p.remaining === 0) return expect(r.swHex).toBe('6984');
    p.remaining--;
    if (value === p.value) {
      p.remaining = WHERE[m.ef].max;
      m.verified.add(m.ef);
      expect(r.swHex).toBe('9000');
    } else {
      m.verified.delete(m.ef);
      expect(r.swHex).toBe(sw(0x63c0 | p.remaining));
    }
  }
  toString = () => `VERIFY ${this.correct ? '<correct>' : '<wrong>'}`;
}

class Query implements Cmd {
  check = () => true;
  run(m: Model, card: VirtualCard) {
    const r = tx(card, '00200080');
    expect(r.swHex).toBe(m.ef ? sw(0x63c0 | m.pins[m.ef].remaining) : '6986');
  }
  toString = () => 'VERIFY query';
}

class Change implements Cmd {
  constructor(readonly value: string) {}
  check = () => true;
  run(m: Model, card: VirtualCard) {
    const ck = m.ef ? WHERE[m.ef].change === 'CK' : false;
    const cmd = encodeCommand({ cla: ck ? 0x80 : 0x00, ins: ck ? 0x32 : 0x24, p1: ck ? 0x00 : 0x01, p2: 0x80, data: Buffer.from(this.value, 'latin1') });
    const r = tx(card, cmd);
    if (!m.ef) return expect(r.swHex).toBe('6986');
    const p = m.pins[m.ef];
    if (p.remaining === 0) return expect(r.swHex).toBe('6984');
    if (!m.verified.has(m.ef)) return expect(r.swHex).toBe('6982');
    if (!validNew(m.ef, this.value)) return expect(r.swHex).toBe('6A80');
    expect(r.swHex).toBe('9000');
    p.value = this.value;
    p.remaining = WHERE[m.ef].max;
  }
  toString = () => `CHANGE to ${JSON.stringify(this.value)}`;
}

class Reset implements Cmd {
  constructor(readonly how: 'reset' | 'power') {}
  check = () => true;
  run(m: Model, card: VirtualCard) {
    if (this.how === 'reset') card.reset();
    else {
      card.powerDown();
      card.powerUp();
    }
    m.df = null;
    m.ef = null;
    m.verified.clear();
  }
  toString = () => this.how;
}

const fourDigits = fc.stringMatching(/^\d{4}$/);
const signLike = fc.stringMatching(/^[A-Z0-9]{6,16}$/);
const anyPinish = fc.oneof(fourDigits, signLike, fc.stringMatching(/^[a-z0-9]{1,16}$/), fc.stringMatching(/^\d{1,8}$/));

const commands = [
  fc.constantFrom(...DFS).map((d) => checked(new SelectDf(d))),
  fc.constantFrom(...IDS).map((i) => checked(new SelectPin(i))),
  fc.tuple(fc.boolean(), anyPinish).map(([c, w]) => checked(new Verify(c, w))),
  fc.tuple(fc.boolean(), anyPinish).map(([c, w]) => checked(new Verify(c, w))),
  fc.constant(checked(new Query())),
  fc.oneof(fourDigits, signLike, anyPinish).map((v) => checked(new Change(v))),
  fc.constantFrom<'reset' | 'power'>('reset', 'power').map((h) => checked(new Reset(h))),
];

describe('PIN rules, model-based', () => {
  let profile: Profile;
  beforeAll(async () => {
    profile = await testProfile();
  });

  it('the card follows the model for random command sequences over all user PINs', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 80, size: 'max' }), (cmds) => {
        const card = testCard(profile);
        const model: Model = {
          pins: Object.fromEntries(IDS.map((i) => [i, { value: profile.pins[i].value, remaining: WHERE[i].max }])) as Model['pins'],
          df: null,
          ef: null,
          verified: new Set(),
        };
        fc.modelRun(() => ({ model, real: card }), cmds);
      }),
      { numRuns: 300 },
    );
  });
});
