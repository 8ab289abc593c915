/**
 * Fuzzing shaped like real use. Each run is a random sequence of steps on a fresh card:
 *
 * - use: SELECT AP → SELECT the PIN's EF → VERIFY (right or wrong value) → READ BINARY of a file it
 *   opens / a signature (80 2A) with a key it opens / CHANGE / a query; any APDU of the step may be
 *   corrupted (a byte, Lc, CLA/INS/P1/P2 replaced, the APDU cut or extended);
 * - garbage: random bytes as an APDU; reset / power cycle; the issuer resetting a counter;
 * - and, once per run at a random place, a tour that verifies, uses, changes and locks one PIN.
 *
 * A small model of the five user PINs (value, counter, verified) predicts every answer of an
 * uncorrupted step exactly (63 Cx, 69 84, 90 00, 69 82, 6A 80) and is compared with card.pin(id).remaining
 * and the state store after every step. After a corrupted APDU the card is not predicted; instead every
 * counter may only move as the answer says (down by one with 63 Cx, up to the maximum with 90 00) and
 * a flag may only become verified with 90 00; then the model takes the card's state over.
 *
 * The card is a test card (faults: 'throw'): a bug in a handler throws and fails the run.
 * The verified, changed and locked states are reached *by construction*: every run has one tour,
 * whose every answer is asserted, so the counts below are exact, not luck. Seed: MYNA_HIL_FC_SEED
 * (tests/support/fast-check.ts).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../simulator/apdu/codec.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { resetCounter } from '../../simulator/issuer/issuer.ts';
import type { PinId } from '../../simulator/pin/pin.ts';
import type { DerivedFiles } from '../../simulator/profile/derived.ts';
import { deriveFiles } from '../../simulator/profile/files.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { MemoryStore } from '../../simulator/state/store.ts';
import { testCard, testProfile } from '../support/card.ts';

type Id = 'sign' | 'auth' | 'kenmen' | 'juki' | 'common';
const IDS: Id[] = ['sign', 'auth', 'kenmen', 'juki', 'common'];
const ALL_PINS: PinId[] = [...IDS, 'textA', 'textB', 'textBlocked', 'faceBirth', 'faceB', 'faceA'];

const AID = { jpki: 'D392F000260100000001', text: 'D3921000310001010408', juki: 'D3921000310001010401', common: 'D3921000310001010100' };
/** Where each PIN lives and what it opens: an EF to read, or a key (SFI in P2) to sign with. */
const PINS: Record<Id, { aid: string; fid: number; max: number; changeKey: boolean; opens?: { read: number } | { signP2: number } }> = {
  sign: { aid: AID.jpki, fid: 0x1b, max: 5, changeKey: false, opens: { read: 0x0001 } },
  auth: { aid: AID.jpki, fid: 0x18, max: 3, changeKey: false, opens: { signP2: 0x97 } },
  kenmen: { aid: AID.text, fid: 0x11, max: 3, changeKey: false, opens: { read: 0x0001 } },
  juki: { aid: AID.juki, fid: 0x1c, max: 3, changeKey: true },
  common: { aid: AID.common, fid: 0x1c, max: 3, changeKey: true },
};
/** Besides the PIN, who opens the file it reads (券面入力補助AP EF 0001: the PIN or 照合番号A). */
const ALSO_OPENS: Partial<Record<Id, PinId>> = { kenmen: 'textA' };

// The value rules restated from pin-rules.md 1, independently of simulator/pin/rules.ts.
const validNew = (id: Id, v: string) => (id === 'sign' ? /^(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*[0-9])[A-Z0-9]{6,16}$/ : /^[0-9]{4}$/).test(v);

interface Model {
  /** The card's state store: after an APDU the model did not predict, it takes the PIN values over from it. */
  store: MemoryStore;
  value: Record<Id, string>;
  remaining: Record<PinId, number>;
  verified: Set<PinId>;
}

interface Counts {
  verified: number;
  changed: number;
  locked: number;
  apdus: number;
  /** Use steps with at least one corrupted APDU. */
  corruptedSteps: number;
}

// ---- APDUs ------------------------------------------------------------------------------------------

const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const ascii = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));
const selectAp = (id: Id) => encodeCommand({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: bytes(PINS[id].aid) });
const selectEf = (fid: number) => encodeCommand({ cla: 0x00, ins: 0xa4, p1: 0x02, p2: 0x0c, data: Uint8Array.of(fid >> 8, fid & 0xff) });
const verify = (value: string) => encodeCommand({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80, data: ascii(value) });
const query = () => encodeCommand({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80 });
const readBinary = () => encodeCommand({ cla: 0x00, ins: 0xb0, p1: 0x00, p2: 0x00, ne: 256 });
const signWith = (p2: number, data: Uint8Array) => encodeCommand({ cla: 0x80, ins: 0x2a, p1: 0x01, p2, data, ne: 256 });
const change = (id: Id, value: string) =>
  PINS[id].changeKey
    ? encodeCommand({ cla: 0x80, ins: 0x32, p1: 0x00, p2: 0x80, data: ascii(value) })
    : encodeCommand({ cla: 0x00, ins: 0x24, p1: 0x01, p2: 0x80, data: ascii(value) });

interface Corruption {
  kind: 'byte' | 'lc' | 'header' | 'cut' | 'extend';
  pos: number;
  byte: number;
  extra: Uint8Array;
}

function corrupt(apdu: Uint8Array, c: Corruption): Uint8Array {
  const out = Uint8Array.from(apdu);
  switch (c.kind) {
    case 'byte':
      out[c.pos % out.length] = c.byte;
      return out;
    case 'lc':
      if (out.length > 4) out[4] = c.byte;
      return out;
    case 'header':
      out[c.pos % 4] = c.byte;
      return out;
    case 'cut':
      return out.subarray(0, c.pos % out.length);
    case 'extend':
      return Uint8Array.from([...out, ...c.extra]);
  }
}

// ---- one APDU, predicted or not ------------------------------------------------------------------

interface Sent {
  sw: number;
  data: Uint8Array;
}

function send(card: VirtualCard, apdu: Uint8Array, counts: Counts): Sent {
  const r = card.transmit(apdu);
  counts.apdus++;
  expect(r.length).toBeGreaterThanOrEqual(2);
  const sw = (r[r.length - 2] << 8) | r[r.length - 1];
  expect(sw === 0x9000 || sw >> 12 === 6, sw.toString(16)).toBe(true);
  if (sw !== 0x9000) expect(r.length, 'an error carries no data').toBe(2);
  return { sw, data: r.subarray(0, r.length - 2) };
}

/** An unpredicted APDU: counters move only as the answer says, a new verification only with 90 00. */
function sendUnpredicted(card: VirtualCard, apdu: Uint8Array, m: Model, counts: Counts): void {
  const { sw } = send(card, apdu, counts);
  const moved = ALL_PINS.filter((id) => card.pin(id).remaining !== m.remaining[id]);
  expect(moved.length, `counters moved: ${moved}`).toBeLessThanOrEqual(1);
  for (const id of moved) {
    const now = card.pin(id).remaining;
    const ok = (now === m.remaining[id] - 1 && sw === (0x63c0 | now)) || (now === card.pin(id).rule.maxTries && sw === 0x9000);
    expect(ok, `${id} counter ${m.remaining[id]} → ${now} with SW ${sw.toString(16)}`).toBe(true);
  }
  const newlyVerified = ALL_PINS.filter((id) => card.isVerified(id) && !m.verified.has(id));
  if (newlyVerified.length) expect(sw, `${newlyVerified} verified`).toBe(0x9000);
  takeOver(m, card);
}

/** The model takes the card's state over (after an APDU it did not predict). */
function takeOver(m: Model, card: VirtualCard): void {
  for (const id of ALL_PINS) m.remaining[id] = card.pin(id).remaining;
  m.verified = new Set(ALL_PINS.filter((id) => card.isVerified(id)));
  const saved = m.store.load()!.pins;
  for (const id of IDS) m.value[id] = saved[id]!.value; // a corrupted CHANGE may have set one
}

// ---- the model's predictions (what pin-rules.md and docs/card.md §9 say) -----------------------------

type Expect = (r: Sent) => void;

const expectSw =
  (sw: number): Expect =>
  (r) =>
    expect(r.sw.toString(16)).toBe(sw.toString(16));

function onSelectAp(m: Model): Expect {
  return (r) => {
    expectSw(0x9000)(r);
    m.verified.clear(); // selectDfClearsVerified and reselectClearsVerified are both on by default
  };
}

function onVerify(m: Model, id: Id, value: string): Expect {
  return (r) => {
    if (value.length === 0) return expectSw(0x63c0 | m.remaining[id])(r);
    if (m.remaining[id] === 0) return expectSw(0x6984)(r);
    m.remaining[id]--;
    if (value === m.value[id]) {
      m.remaining[id] = PINS[id].max;
      m.verified.add(id);
      return expectSw(0x9000)(r);
    }
    m.verified.delete(id);
    expectSw(0x63c0 | m.remaining[id])(r);
  };
}

function onUse(m: Model, id: Id): Expect {
  return (r) => {
    const open = m.verified.has(id) || (ALSO_OPENS[id] !== undefined && m.verified.has(ALSO_OPENS[id]!));
    expectSw(open ? 0x9000 : 0x6982)(r);
    if (open) expect(r.data.length).toBeGreaterThan(0);
  };
}

function onChange(m: Model, id: Id, value: string): Expect {
  return (r) => {
    if (m.remaining[id] === 0) return expectSw(0x6984)(r);
    if (!m.verified.has(id)) return expectSw(0x6982)(r);
    if (!validNew(id, value)) return expectSw(0x6a80)(r);
    expectSw(0x9000)(r);
    m.value[id] = value;
    m.remaining[id] = PINS[id].max;
  };
}

// ---- steps -------------------------------------------------------------------------------------------

interface UseStep {
  kind: 'use';
  id: Id;
  correct: boolean;
  wrong: string;
  action: 'use' | 'change' | 'query' | 'none';
  newValue: string;
  message: Uint8Array;
  /** One entry per APDU of the step (cycled): null = sent as is. */
  corruptions: Array<Corruption | null>;
}
type Step = UseStep | { kind: 'garbage'; apdu: Uint8Array } | { kind: 'reset' | 'power' } | { kind: 'issuer-reset'; id: Id };
interface Tour {
  at: number;
  id: Id;
  newValue: string;
  message: Uint8Array;
}

/** The APDUs of a use step with the model's prediction of each. */
function plan(s: UseStep, m: Model): Array<[Uint8Array, Expect]> {
  const p = PINS[s.id];
  const value = s.correct ? m.value[s.id] : s.wrong;
  const out: Array<[Uint8Array, Expect]> = [
    [selectAp(s.id), onSelectAp(m)],
    [selectEf(p.fid), expectSw(0x9000)],
    [verify(value), onVerify(m, s.id, value)],
  ];
  if (s.action === 'query') out.push([query(), (r) => expectSw(0x63c0 | m.remaining[s.id])(r)]);
  if (s.action === 'change') out.push([change(s.id, s.newValue), onChange(m, s.id, s.newValue)]);
  if (s.action === 'use' && p.opens && 'read' in p.opens) out.push([selectEf(p.opens.read), expectSw(0x9000)], [readBinary(), onUse(m, s.id)]);
  if (s.action === 'use' && p.opens && 'signP2' in p.opens) out.push([signWith(p.opens.signP2, s.message), onUse(m, s.id)]);
  return out;
}

function runUse(card: VirtualCard, s: UseStep, m: Model, counts: Counts): void {
  let predicted = true;
  plan(s, m).forEach(([apdu, expectation], i) => {
    const c = s.corruptions[i % s.corruptions.length];
    if (c && predicted) counts.corruptedSteps++;
    predicted &&= !c;
    // A corrupted APDU may select another EF or DF: the rest of the step is not predicted either.
    if (predicted) expectation(send(card, apdu, counts));
    else sendUnpredicted(card, c ? corrupt(apdu, c) : apdu, m, counts);
  });
}

function runStep(card: VirtualCard, s: Step, m: Model, counts: Counts): void {
  switch (s.kind) {
    case 'use':
      runUse(card, s, m, counts);
      return;
    case 'garbage':
      sendUnpredicted(card, s.apdu, m, counts);
      return;
    case 'reset':
      card.reset();
      m.verified.clear();
      return;
    case 'power':
      card.powerDown();
      card.powerUp();
      m.verified.clear();
      return;
    case 'issuer-reset':
      resetCounter(card, s.id);
      m.remaining[s.id] = PINS[s.id].max;
  }
}

/** A value of the same length that differs in its last character (a plausible typo). */
function typo(v: string): string {
  const last = v[v.length - 1];
  const next = /[0-9]/.test(last) ? String((Number(last) + 1) % 10) : String.fromCharCode(((last.charCodeAt(0) - 65 + 1) % 26) + 65);
  return v.slice(0, -1) + next;
}

/** Verify, use, change and lock one PIN; every answer asserted. Returns nothing: it counts. */
function runTour(card: VirtualCard, t: Tour, m: Model, counts: Counts): void {
  const p = PINS[t.id];
  const step = (apdu: Uint8Array, e: Expect) => e(send(card, apdu, counts));
  if (m.remaining[t.id] === 0) runStep(card, { kind: 'issuer-reset', id: t.id }, m, counts);
  step(selectAp(t.id), onSelectAp(m));
  step(selectEf(p.fid), expectSw(0x9000));
  step(verify(m.value[t.id]), expectSw(0x9000));
  m.verified.add(t.id);
  counts.verified++;
  step(change(t.id, t.newValue), expectSw(0x9000));
  m.value[t.id] = t.newValue;
  counts.changed++;
  step(verify(t.newValue), expectSw(0x9000)); // the new value opens it
  if (p.opens && 'signP2' in p.opens) step(signWith(p.opens.signP2, t.message), expectSw(0x9000));
  if (p.opens && 'read' in p.opens) {
    step(selectEf(p.opens.read), expectSw(0x9000));
    step(readBinary(), expectSw(0x9000));
  }
  step(selectEf(p.fid), expectSw(0x9000)); // signing by SFI or reading made another EF current
  for (let left = p.max - 1; left >= 0; left--) step(verify(typo(t.newValue)), expectSw(0x63c0 | left));
  step(verify(t.newValue), expectSw(0x6984)); // even the right value
  step(query(), expectSw(0x63c0));
  m.remaining[t.id] = 0;
  m.verified.delete(t.id);
  counts.locked++;
}

// ---- generators -----------------------------------------------------------------------------------

const byte = fc.integer({ min: 0, max: 255 });
const id = fc.constantFrom<Id>(...IDS);
const printable = fc.stringMatching(/^[ -~]{1,16}$/);
const fourDigits = fc.stringMatching(/^[0-9]{4}$/);
const signPassword = fc.stringMatching(/^[A-Z]{3,8}[0-9]{3,8}$/);
const pinLike = fc.oneof(fourDigits, signPassword, fc.stringMatching(/^[A-Z0-9]{6,16}$/), printable);
const corruption: fc.Arbitrary<Corruption> = fc.record({
  kind: fc.constantFrom<Corruption['kind']>('byte', 'lc', 'header', 'cut', 'extend'),
  pos: fc.nat(),
  byte,
  extra: fc.uint8Array({ minLength: 1, maxLength: 8 }),
});
const message = fc.uint8Array({ minLength: 1, maxLength: 64 });
const useStep: fc.Arbitrary<UseStep> = fc.record({
  kind: fc.constant('use' as const),
  id,
  correct: fc.boolean(),
  wrong: pinLike,
  action: fc.constantFrom<UseStep['action']>('use', 'change', 'query', 'none'),
  newValue: pinLike,
  message,
  // about one APDU in eight corrupted
  corruptions: fc.array(fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: corruption }), { minLength: 1, maxLength: 6 }),
});
/** A use step whose every APDU is corrupted: one per run, so corruption is there by construction. */
const corruptedStep: fc.Arbitrary<UseStep> = fc.tuple(useStep, corruption).map(([s, c]) => ({ ...s, corruptions: [c] }));
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: useStep },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }).map((apdu) => ({ kind: 'garbage' as const, apdu })) },
  { weight: 1, arbitrary: fc.constantFrom<Step>({ kind: 'reset' }, { kind: 'power' }) },
  { weight: 1, arbitrary: id.map((i): Step => ({ kind: 'issuer-reset', id: i })) },
);
const tour: fc.Arbitrary<Tour> = fc
  .record({ at: fc.nat(), id, newValue: fc.constant(''), message })
  .chain((t) => (t.id === 'sign' ? signPassword : fourDigits).map((newValue) => ({ ...t, newValue })));

// ---- the test -----------------------------------------------------------------------------------------

describe('fuzzing shaped like real use', () => {
  let profile: Profile;
  let files: DerivedFiles;
  beforeAll(async () => {
    profile = await testProfile();
    files = deriveFiles(profile);
  });

  it('the card follows the PIN model through corrupted use, never throws, and reaches verified, changed and locked', () => {
    const RUNS = 120;
    const counts: Counts = { verified: 0, changed: 0, locked: 0, apdus: 0, corruptedSteps: 0 };
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40, size: 'max' }), tour, corruptedStep, (random, t, bad) => {
        const steps = [...random, bad];
        const store = new MemoryStore();
        const card = testCard(profile, { store, files });
        const m: Model = {
          store,
          value: Object.fromEntries(IDS.map((i) => [i, profile.pins[i].value])) as Model['value'],
          remaining: Object.fromEntries(ALL_PINS.map((i) => [i, card.pin(i).remaining])) as Model['remaining'],
          verified: new Set(),
        };
        const at = t.at % (steps.length + 1);
        steps.forEach((s, i) => {
          if (i === at) runTour(card, t, m, counts);
          runStep(card, s, m, counts);
          sameAsModel(card, m, store);
        });
        if (at === steps.length) runTour(card, t, m, counts);
        sameAsModel(card, m, store);
      }),
      { numRuns: RUNS },
    );
    // Exactly one tour per run (shrinking runs more, but only after a failure, which fails the test anyway).
    expect([counts.verified, counts.changed, counts.locked]).toEqual([RUNS, RUNS, RUNS]);
    // At least the one fully corrupted step per run; random steps add more (about 1 APDU in 8).
    expect(counts.corruptedSteps).toBeGreaterThanOrEqual(RUNS);
    expect(counts.apdus).toBeGreaterThan(RUNS * 20); // a tour alone sends at least 12 APDUs, a use step 3
  });
});

/** Counters in memory equal the model and the state store; verified flags equal the model. */
function sameAsModel(card: VirtualCard, m: Model, store: MemoryStore): void {
  const saved = store.load()!.pins;
  for (const id of ALL_PINS) {
    expect(card.pin(id).remaining, `${id} counter`).toBe(m.remaining[id]);
    expect(saved[id]?.remaining, `${id} counter saved`).toBe(m.remaining[id]);
    expect(card.isVerified(id), `${id} verified`).toBe(m.verified.has(id));
  }
  for (const id of IDS) expect(saved[id]?.value === m.value[id], `${id} value saved`).toBe(true); // never print a value
}
