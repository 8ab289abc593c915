/**
 * Builds a card from files: a profile and, optionally, a state file (created on first use).
 */
import { fromHex } from '../apdu/codec.ts';
import { InputError } from '../errors.ts';
import { loadProfile } from '../profile/io.ts';
import { FileStore, MemoryStore } from '../state/store.ts';
import { cardFromProfile } from './build.ts';
import type { VirtualCard } from './card.ts';

export function buildCard(profilePath: string, statePath?: string, atr?: string | Uint8Array): VirtualCard {
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
  return cardFromProfile(profile, { store: statePath ? new FileStore(statePath) : new MemoryStore(), atr: atrBytes, source: profilePath });
}
