/**
 * Builds a VirtualCard from a profile (what the card is) and a state store (what happened to it).
 */
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { fromHex } from '../apdu/codec.ts';
import { commonApplet, faceApplet, isdApplet, jpkiApplet, jukiApplet, mfFiles, textApplet, type Pins } from '../applets/index.ts';
import { InputError } from '../errors.ts';
import { Pin, type PinId, type PinRule, type PinState, USER_PINS, type UserPinId, userPinRule } from '../pin/pin.ts';
import { userPinValueProblem } from '../pin/rules.ts';
import type { DerivedFiles } from '../profile/derived.ts';
import { deriveFiles } from '../profile/files.ts';
import type { Profile } from '../profile/schema.ts';
import { type CardStateDoc, MemoryStore, STATE_FORMAT, STATE_VERSION, type StateStore } from '../state/store.ts';
import { type FaultMode, VirtualCard } from './card.ts';

export interface CardOptions {
  /** Where counters and PIN values persist; default: memory only. */
  store?: StateStore;
  /** Overrides the profile's ATR. */
  atr?: Uint8Array;
  /** Files already derived from this profile (benchmarks build many cards from one profile). */
  files?: DerivedFiles;
  /** Names the profile in error messages (its path); default "profile". */
  source?: string;
  /** Internal faults (bugs): answered 6F 00 and reported through onFault (default), or rethrown (tests). */
  faults?: FaultMode;
}

const isUserPin = (id: PinId): id is UserPinId => (USER_PINS as readonly PinId[]).includes(id);

/** Identifies the card a state file belongs to. */
export function cardFingerprint(profile: Profile): string {
  return `${profile.card.serial}:${createHash('sha256').update(profile.certificates.auth).digest('hex').slice(0, 16)}`;
}

function pinRules(profile: Profile): Record<PinId, PinRule> {
  const t = profile.behaviour.maxTries;
  const key = (id: 'textA' | 'textB' | 'faceA' | 'faceB' | 'faceBirth', digits: number, format: string): PinRule => ({
    maxTries: t[id] ?? t.verificationKeys,
    lengths: [digits, digits],
    format,
  });
  const rules: Partial<Record<PinId, PinRule>> = {
    textA: key('textA', 12, '照合番号A: the 12-digit My Number'),
    faceA: key('faceA', 12, '照合番号A: the 12-digit My Number'),
    textB: key('textB', 14, '照合番号B: era YYMMDD + expiry year + security code, 14 digits'),
    faceB: key('faceB', 14, '照合番号B: era YYMMDD + expiry year + security code, 14 digits'),
    faceBirth: key('faceBirth', 6, 'birth date as era YYMMDD, 6 digits'),
    textBlocked: { maxTries: 0, lengths: [1, 16], format: 'blocked on every card' },
  };
  for (const id of USER_PINS) rules[id] = userPinRule(id, t[id]);
  return rules as Record<PinId, PinRule>;
}

function initialPinStates(profile: Profile, files: DerivedFiles, rules: Record<PinId, PinRule>, source: string): Record<PinId, PinState> {
  const v = files.verification;
  const s = {
    textA: { value: v.a, remaining: rules.textA.maxTries },
    faceA: { value: v.a, remaining: rules.faceA.maxTries },
    textB: { value: v.b, remaining: rules.textB.maxTries },
    faceB: { value: v.b, remaining: rules.faceB.maxTries },
    faceBirth: { value: v.birth, remaining: rules.faceBirth.maxTries },
    textBlocked: { value: '', remaining: 0 },
  } as Record<PinId, PinState>;
  for (const id of USER_PINS) {
    const spec = profile.pins[id];
    // parseProfile checks this too; a profile built in code (tests, generators) has not been through it
    const problem = userPinValueProblem(id, spec.value);
    if (problem) throw new InputError(`${source}: field pins.${id}.value: ${problem}; correct the field, or regenerate the card with \`myna-hil card new\``);
    s[id] = { value: spec.value, remaining: Math.min(spec.remaining ?? rules[id].maxTries, rules[id].maxTries) };
  }
  return s;
}

function privateKey(pem: string, what: string, source: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new InputError(`${source}: field keys.${what}: not a usable private key (${(err as Error).message}); regenerate the card with "myna-hil card new"`);
  }
}

/** deriveFiles names the field of a bad profile value, not the file: put the file in front. */
function deriveNamingSource(profile: Profile, source: string): DerivedFiles {
  try {
    return deriveFiles(profile);
  } catch (err) {
    if (err instanceof InputError && err.message.startsWith('field ')) throw new InputError(`${source}: ${err.message}`);
    throw err;
  }
}

/** Applies a state file's PINs over the profile's initial ones, refusing counters and values no card can hold. */
function applyStored(stored: CardStateDoc, location: string, states: Record<PinId, PinState>, rules: Record<PinId, PinRule>): void {
  for (const [id, st] of Object.entries(stored.pins) as [PinId, PinState][]) {
    if (st.remaining > rules[id].maxTries) {
      throw new InputError(
        `${location}: field pins.${id}.remaining: ${st.remaining} is above the maximum of ${rules[id].maxTries}; fix it or delete the state file`,
      );
    }
    // Only the user PINs change value on the card; 照合番号A/B and the birth-date key are the
    // holder data of the profile, so their stored counters are kept and their values are not.
    if (isUserPin(id)) {
      const problem = userPinValueProblem(id, st.value);
      if (problem)
        throw new InputError(`${location}: field pins.${id}.value: ${problem}; set a valid value with \`myna-hil issuer set-pin\` or delete the state file`);
      states[id] = { value: st.value, remaining: st.remaining };
    } else states[id].remaining = st.remaining;
  }
}

/** Builds the card. Loads the state from the store, or starts from the profile's initial values. */
export function cardFromProfile(profile: Profile, options: CardOptions = {}): VirtualCard {
  const source = options.source ?? 'profile';
  const store = options.store ?? new MemoryStore();
  const files = options.files ?? deriveNamingSource(profile, source);
  const rules = pinRules(profile);
  const fingerprint = cardFingerprint(profile);
  const states = initialPinStates(profile, files, rules, source);

  const stored = store.load();
  if (stored) {
    if (stored.card !== fingerprint) {
      throw new InputError(
        `${store.location}: field card: this state belongs to another card (${stored.card}, the profile is ${fingerprint}); use another --state file or delete this one`,
      );
    }
    applyStored(stored, store.location, states, rules);
  }

  const doc: CardStateDoc = { format: STATE_FORMAT, version: STATE_VERSION, card: fingerprint, updatedAt: '', pins: states };
  const save = (pins: CardStateDoc['pins']) => store.save({ ...doc, updatedAt: new Date().toISOString(), pins });
  // A PIN saves the whole state with its own entry replaced; it updates `states` (shared with it) after.
  const persistPin = (id: PinId) => (next: PinState) => save({ ...states, [id]: { ...next } });
  const pins = {} as Pins;
  for (const id of Object.keys(rules) as PinId[]) pins[id] = new Pin(id, rules[id], states[id], persistPin(id));
  if (!stored) save(states);

  const keys = {
    auth: privateKey(profile.keys.auth, 'auth', source),
    sign: profile.keys.sign ? privateKey(profile.keys.sign, 'sign', source) : undefined,
    textAp: privateKey(profile.keys.textAp, 'textAp', source),
    faceAp: privateKey(profile.keys.faceAp, 'faceAp', source),
    common: privateKey(profile.keys.common, 'common', source),
  };
  const b = profile.behaviour;
  return new VirtualCard({
    atr: options.atr ?? fromHex(profile.card.atr),
    applets: [
      jpkiApplet(files, keys, pins, b),
      textApplet(files, keys, pins),
      faceApplet(files, keys, pins),
      jukiApplet(files, pins),
      commonApplet(files, keys, pins),
      isdApplet(),
    ],
    mf: mfFiles(),
    pins,
    behaviour: b,
    getData: files.getData,
    faults: options.faults ?? 'answer',
  });
}
