/**
 * State stores that fail on demand, wrapped around a real one (memory by default, or a FileStore):
 * the card's storage faults without a test hook in the product.
 */
import { PowerLoss } from '../../simulator/card/card.ts';
import type { PinId } from '../../simulator/pin/pin.ts';
import { type CardStateDoc, MemoryStore, type StateStore } from '../../simulator/state/store.ts';

export class FaultyStore implements StateStore {
  /** Saves throw an I/O error and write nothing. */
  failing = false;
  /** From this save attempt on (counted from 1) saves fail as with `failing`. */
  failFrom = Infinity;
  /** Saves write, then throw PowerLoss: the power went right after the write reached the memory. */
  powerLossAfterSave = false;
  /** Save attempts so far, failed ones included. */
  saves = 0;

  constructor(private readonly inner: StateStore = new MemoryStore()) {}

  get location(): string {
    return this.inner.location;
  }

  load(): CardStateDoc | undefined {
    return this.inner.load();
  }

  save(doc: CardStateDoc): void {
    this.saves++;
    if (this.failing || this.saves >= this.failFrom) throw new Error('EIO: i/o error writing the state');
    this.inner.save(doc);
    if (this.powerLossAfterSave) throw new PowerLoss();
  }

  close(): void {
    this.inner.close?.();
  }

  /** Counter of `id` as saved. */
  stored(id: PinId): number | undefined {
    return this.inner.load()?.pins[id]?.remaining;
  }
}
