/**
 * SmartCard test doubles for transport and PC/SC tests (the real card is simulator/card's VirtualCard).
 * They count what they see, so tests can check that state survives removal and insertion.
 */
import type { SmartCard } from '../../simulator/card/types.ts';

/** ATR of the iso7816 reference card vicc (T=1): a harmless ATR no OpenSC driver claims. */
export const TEST_ATR = Uint8Array.of(0x3b, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xff, 0x01, 0x00, 0x0b);

export interface CountingCard extends SmartCard {
  /** APDUs transmitted over the card's lifetime (survives removal, power-off and reset). */
  readonly apdus: number;
  readonly powerUps: number;
  readonly powerDowns: number;
  readonly resets: number;
  readonly atrReads: number;
}

/** Answers every APDU with the command bytes followed by 90 00; counts everything. */
export class EchoCard implements CountingCard {
  apdus = 0;
  powerUps = 0;
  powerDowns = 0;
  resets = 0;
  atrReads = 0;
  constructor(private readonly atrBytes: Uint8Array = TEST_ATR) {}
  atr(): Uint8Array {
    this.atrReads++;
    return this.atrBytes;
  }
  powerUp(): void {
    this.powerUps++;
  }
  powerDown(): void {
    this.powerDowns++;
  }
  reset(): void {
    this.resets++;
  }
  transmit(command: Uint8Array): Uint8Array {
    this.apdus++;
    const out = new Uint8Array(command.length + 2);
    out.set(command, 0);
    out[command.length] = 0x90;
    out[command.length + 1] = 0x00;
    return out;
  }
}

/**
 * Answers one fixed SELECT (by default SELECT MF `00 A4 00 0C 02 3F 00`) with 90 00, any other SELECT
 * with 6A 82 and any other instruction with 6D 00. `selected` is volatile: cleared by power and reset.
 */
export class FixedSelectCard extends EchoCard {
  selected = false;
  constructor(
    private readonly select: Uint8Array = Uint8Array.of(0x00, 0xa4, 0x00, 0x0c, 0x02, 0x3f, 0x00),
    atr?: Uint8Array,
  ) {
    super(atr);
  }
  override powerUp(): void {
    super.powerUp();
    this.selected = false;
  }
  override powerDown(): void {
    super.powerDown();
    this.selected = false;
  }
  override reset(): void {
    super.reset();
    this.selected = false;
  }
  override transmit(command: Uint8Array): Uint8Array {
    this.apdus++;
    if (command.length >= 2 && command[1] === 0xa4) {
      const hit = command.length === this.select.length && command.every((b, i) => b === this.select[i]);
      if (hit) this.selected = true;
      return hit ? Uint8Array.of(0x90, 0x00) : Uint8Array.of(0x6a, 0x82);
    }
    return Uint8Array.of(0x6d, 0x00);
  }
}

/** A card whose transmit always throws (the transport must answer 6F 00). */
export class ThrowingCard extends EchoCard {
  override transmit(): Uint8Array {
    this.apdus++;
    throw new Error('card bug');
  }
}
