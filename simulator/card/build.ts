/**
 * Builds a VirtualCard from a profile (what the card is) and a state store (what happened to it).
 */
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { fromHex } from '../apdu/codec.ts';
import { commonApplet, faceApplet, isdApplet, jpkiApplet, jukiApplet, mfFiles, textApplet, type Pins } from '../applets/index.ts';
import { InputError } from '../errors.ts';
import { Pin, type PinId, type PinRule, type PinState, USER_PINS, userPinRule } from '../pin/pin.ts';
import type { DerivedFiles } from '../profile/derived.ts';
import { deriveFiles } from '../profile/files.ts';
import type { Profile } from '../profile/schema.ts';
import { type CardStateDoc, MemoryStore, STATE_FORMAT, STATE_VERSION, type StateStore } from '../state/store.ts';
import { VirtualCard } from './card.ts';

export interface CardOptions {
  /** Where counters and PIN values persist; default: memory only. */
  store?: StateStore;
  /** Overrides the profile's ATR. */
  atr?: Uint8Array;
  /** Test seam: runs right after a decremented retry counter was persisted, before the comparison. */
  afterCounterWrite?: () => void;
  /** Files already derived from this profile (benchmarks build many cards from one profile). */
  files?: DerivedFiles;
}

const isUserPin = (id: PinId): boolean => (USER_PINS as readonly PinId[]).includes(id);

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

function initialPinStates(profile: Profile, files: DerivedFiles, rules: Record<PinId, PinRule>): Record<PinId, PinState> {
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
    s[id] = { value: spec.value, remaining: Math.min(spec.remaining ?? rules[id].maxTries, rules[id].maxTries) };
  }
  return s;
}

function privateKey(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new InputError(`profile: field keys.${what}: not a usable private key (${(err as Error).message}); regenerate the card with "myna-hil card new"`);
  }
}

/** Builds the card. Loads the state from the store, or starts from the profile's initial values. */
export function cardFromProfile(profile: Profile, options: CardOptions = {}): VirtualCard {
  const store = options.store ?? new MemoryStore();
  const files = options.files ?? deriveFiles(profile);
  const rules = pinRules(profile);
  const fingerprint = cardFingerprint(profile);
  const states = initialPinStates(profile, files, rules);

  const stored = store.load();
  if (stored) {
    if (stored.card !== fingerprint) {
      throw new InputError(`${store.location}: field card: this state belongs to another card (${stored.card}, the profile is ${fingerprint}); use another --state file or delete this one`);
    }
    for (const [id, st] of Object.entries(stored.pins) as [PinId, PinState][]) {
      if (st.remaining > rules[id].maxTries) {
        throw new InputError(`${store.location}: field pins.${id}.remaining: ${st.remaining} is above the maximum of ${rules[id].maxTries}; fix it or delete the state file`);
      }
      // Only the user PINs change value on the card; 照合番号A/B and the birth-date key are the
      // holder data of the profile, so their stored counters are kept and their values are not.
      if (isUserPin(id)) states[id] = { value: st.value, remaining: st.remaining };
      else states[id].remaining = st.remaining;
    }
  }

  const doc: CardStateDoc = { format: STATE_FORMAT, version: STATE_VERSION, card: fingerprint, updatedAt: '', pins: states };
  const persist = () => {
    doc.updatedAt = new Date().toISOString();
    store.save(doc);
  };
  const pins = {} as Pins;
  for (const id of Object.keys(rules) as PinId[]) pins[id] = new Pin(id, rules[id], states[id], persist, options.afterCounterWrite);
  if (!stored) persist();

  const keys = {
    auth: privateKey(profile.keys.auth, 'auth'),
    sign: profile.keys.sign ? privateKey(profile.keys.sign, 'sign') : undefined,
    textAp: privateKey(profile.keys.textAp, 'textAp'),
    faceAp: privateKey(profile.keys.faceAp, 'faceAp'),
    common: privateKey(profile.keys.common, 'common'),
  };
  const b = profile.behaviour;
  return new VirtualCard({
    atr: options.atr ?? fromHex(profile.card.atr),
    applets: [jpkiApplet(files, keys, pins, b), textApplet(files, keys, pins), faceApplet(files, keys, pins), jukiApplet(files, pins), commonApplet(files, keys, pins), isdApplet()],
    mf: mfFiles(),
    pins,
    behaviour: b,
    getData: files.getData,
  });
}
