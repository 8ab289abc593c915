/**
 * The card the runner hosts itself (targets sim and vpcd): a profile (generated per variant once per
 * target, or a profile file) with the scenario's `card:` applied, built in memory behind the fault and
 * trace decorator (./faults.ts). Generated cards get random valid PIN values for every scenario, never
 * the generator's defaults, so that a PIN a client prints is recognisably this run's.
 */
import { randomInt, X509Certificate } from 'node:crypto';
import { resolve } from 'node:path';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { InputError } from '../../simulator/errors.ts';
import { reinitSignPassword, resetCounter, setPin } from '../../simulator/issuer/issuer.ts';
import { USER_PINS } from '../../simulator/pin/pin.ts';
import { isValidSignPassword } from '../../simulator/pin/rules.ts';
import { generateProfile } from '../../simulator/profile/generate.ts';
import { loadProfile } from '../../simulator/profile/io.ts';
import { Behaviour, type Profile, type Variant } from '../../simulator/profile/schema.ts';
import { MemoryStore } from '../../simulator/state/store.ts';
import type { PinCounters } from '../runner/events.ts';
import type { CardEvent, CardSetup, PinKind } from '../scenario/model.ts';
import { sha256 } from '../flows/card-ref.ts';
import type { SessionCapture } from '../session/capture.ts';
import { toHex } from '../../simulator/apdu/codec.ts';
import { FaultyCard, PowerCutStore } from './faults.ts';

/** Where profiles come from; tests inject a cached one (generation takes about a second). */
export type ProfileSource = (variant: Variant) => Promise<Profile>;

/** One generated profile per variant, for the life of the source. */
export function cachedGenerator(): ProfileSource {
  const cache = new Map<Variant, Promise<Profile>>();
  return (variant) => {
    let p = cache.get(variant);
    if (!p) {
      p = generateProfile({ variant });
      cache.set(variant, p);
    }
    return p;
  };
}

const DIGITS = '0123456789';
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const pick = (alphabet: string, n: number): string => Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join('');

/** A random value the PIN can hold (docs/pin-rules.md §1): 4 digits, or an 8-character sign password. */
export function randomPinValue(kind: PinKind): string {
  if (kind !== 'sign') return pick(DIGITS, 4);
  for (;;) {
    const v = pick(LETTERS + DIGITS, 8);
    if (isValidSignPassword(v)) return v;
  }
}

/** Random PIN values, different from each other and from `avoid` (the profile's own values). */
export function randomPinValues(avoid: readonly string[]): Record<PinKind, string> {
  const used = new Set(avoid);
  const out = {} as Record<PinKind, string>;
  for (const kind of USER_PINS) {
    let v = randomPinValue(kind);
    while (used.has(v)) v = randomPinValue(kind);
    used.add(v);
    out[kind] = v;
  }
  return out;
}

/** The profile's behaviour with the scenario's overrides, one level deep (maxTries merges per PIN). */
function withBehaviour(profile: Profile, overrides: Record<string, unknown>): Profile['behaviour'] {
  const merged: Record<string, unknown> = { ...profile.behaviour };
  for (const [k, v] of Object.entries(overrides)) {
    const old = merged[k];
    merged[k] = v && typeof v === 'object' && !Array.isArray(v) && old && typeof old === 'object' ? { ...old, ...v } : v;
  }
  const r = Behaviour.safeParse(merged);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new InputError(`card.behaviour.${issue.path.join('.')}: ${issue.message}; see the profile schema's behaviour options (simulator/profile/schema.ts)`);
}

/** The profile the scenario asks for, its PIN values and counters set. */
export async function scenarioProfile(setup: CardSetup, baseDir: string, source: ProfileSource): Promise<{ profile: Profile; name: string }> {
  const name = setup.profile ? resolve(baseDir, setup.profile) : `generated ${setup.variant ?? 'adult'} card`;
  const base = setup.profile ? loadProfile(name) : await source(setup.variant ?? 'adult');
  const profile = structuredClone(base);
  if (!setup.profile) {
    const values = randomPinValues(USER_PINS.map((k) => base.pins[k].value));
    for (const kind of USER_PINS) profile.pins[kind] = { ...profile.pins[kind], value: values[kind] };
  }
  if (setup.behaviour) profile.behaviour = withBehaviour(profile, setup.behaviour);
  for (const [kind, want] of Object.entries(setup.pins ?? {}) as [PinKind, { triesLeft?: number }][]) {
    if (want.triesLeft === undefined) continue;
    const max = profile.behaviour.maxTries[kind];
    if (want.triesLeft > max)
      throw new InputError(`card.pins.${kind}.triesLeft: ${want.triesLeft} is above the ${kind} PIN's maximum of ${max}; give 0..${max}`);
    profile.pins[kind] = { ...profile.pins[kind], remaining: want.triesLeft };
  }
  return { profile, name };
}

/** A built card with its decorator and the out-of-band operations the targets share. */
export class HostedCard {
  readonly card: VirtualCard;
  readonly faulty: FaultyCard;
  readonly pinValues: Record<PinKind, string>;
  /** The card's identity for recorded sessions: SHA-256 of the profile's auth certificate DER. */
  readonly authCertSha256: string;

  constructor(
    profile: Profile,
    readonly source: string,
  ) {
    this.authCertSha256 = authCertSha256(profile);
    const store = new PowerCutStore(new MemoryStore());
    this.card = cardFromProfile(profile, { store, source, faults: 'answer' });
    this.faulty = new FaultyCard(this.card, store);
    this.pinValues = Object.fromEntries(USER_PINS.map((k) => [k, profile.pins[k].value])) as Record<PinKind, string>;
  }

  get trace() {
    return this.faulty.trace;
  }

  /** Records what this card sees from now on into `capture` (identified from the profile). */
  record(capture: SessionCapture | undefined, reader?: string): void {
    if (!capture) return;
    capture.identify({ atr: this.card.atr(), reader, authCertSha256: this.authCertSha256, profile: this.source });
    this.faulty.recorder = capture.recorder;
  }

  /** Tries left per PIN from the card's own counters: no VERIFY is sent, no try is spent. */
  counters(): PinCounters {
    const out: PinCounters = {};
    for (const kind of USER_PINS) {
      const pin = this.card.pin(kind);
      out[kind] = { triesLeft: pin.remaining, max: pin.rule.maxTries, locked: pin.blocked };
    }
    return out;
  }

  /** Fault events; remove/insert/reset are the target's (they mean different things on sim and vpcd). */
  fault(event: CardEvent): void {
    if (!this.faulty.apply(event)) throw new Error(`${event.type} is not a fault event`);
  }

  issuer(action: 'reset-counter' | 'set-pin' | 'reinit-sign-password', pin?: PinKind, value?: string): void {
    if (action === 'reset-counter') {
      resetCounter(this.card, need(pin, action, 'pin'));
      return;
    }
    const v = need(value, action, 'value');
    if (action === 'set-pin') {
      const kind = need(pin, action, 'pin');
      setPin(this.card, kind, v);
      this.pinValues[kind] = v;
    } else {
      reinitSignPassword(this.card, v);
      this.pinValues.sign = v;
    }
  }
}

/** SHA-256 (hex, lower case) of the profile's auth certificate DER: how a session names the card. */
export function authCertSha256(profile: Profile): string {
  return toHex(sha256(new Uint8Array(new X509Certificate(profile.certificates.auth).raw))).toLowerCase();
}

function need<T>(v: T | undefined, action: string, field: string): T {
  if (v === undefined) throw new InputError(`issuer ${action}: field ${field} is required; add \`${field}:\` to the step`);
  return v;
}
