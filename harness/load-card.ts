/**
 * Builds a card from files: a profile and, optionally, a state file (created on first use). The card
 * holds the state file's lock (simulator/state/lock.ts) until its close(). File I/O lives here, in the
 * harness: the card core (simulator/card) is bytes in, bytes out.
 */
import { fromHex } from '../simulator/apdu/codec.ts';
import { InputError } from '../simulator/errors.ts';
import { loadProfile } from '../simulator/profile/io.ts';
import { FileStore, MemoryStore, type StateStore } from '../simulator/state/store.ts';
import { cardFromProfile } from '../simulator/card/build.ts';
import type { VirtualCard } from '../simulator/card/card.ts';

/** A card built from files: close() lets go of its state file (idempotent). */
export type LoadedCard = VirtualCard & { close(): void };

export function buildCard(profilePath: string, statePath?: string, atr?: string | Uint8Array): LoadedCard {
  const profile = loadProfile(profilePath);
  let atrBytes: Uint8Array | undefined;
  if (typeof atr === 'string') {
    try {
      atrBytes = fromHex(atr);
    } catch {
      throw new InputError(`--atr: "${atr}" is not hex; give the ATR as hex bytes, e.g. 3BDA13FF8131FB468012392F31C173C601C03B`);
    }
    if (atrBytes.length < 2 || atrBytes.length > 33) throw new InputError(`--atr: an ATR has 2 to 33 bytes, "${atr}" has ${atrBytes.length}`);
  } else atrBytes = atr;
  const store: StateStore = statePath ? new FileStore(statePath) : new MemoryStore();
  try {
    return Object.assign(cardFromProfile(profile, { store, atr: atrBytes, source: profilePath }), { close: () => store.close?.() });
  } catch (err) {
    store.close?.(); // a state file the card refused is not kept locked
    throw err;
  }
}
