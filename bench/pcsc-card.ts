/**
 * Child process of the PC/SC benchmark (bench/pcsc.ts): one card served into one vpcd slot with the
 * project's vpcd transport, so that the card under test runs in its own process, as `serve` does and
 * as vicc does.
 *
 *   node bin/run-ts.mjs bench/pcsc-card.ts myna  <slot> on|off <profile.json>   the virtual card
 *   node bin/run-ts.mjs bench/pcsc-card.ts floor <slot> on|off                  the floor card
 *
 * `on|off` is the transport's card-side TCP_QUICKACK fix. The floor card answers every APDU `90 00` at
 * once and has no logic: through pcscd it measures the stack (client, pcscd, vpcd, our transport).
 *
 * Unlike `serve` it logs nothing per APDU. It prints JSON lines on stdout: `{"event":"started",...}`,
 * `{"event":"visible"}` (the first GET ATR of vpcd on the connection), `{"event":"disconnected",...}`.
 * It stops on SIGTERM/SIGINT and when its stdin closes (the benchmark died), so it never outlives it.
 */
import type { SmartCard } from '../simulator/card/types.ts';
import { buildCard } from '../harness/load-card.ts';
import { VpcdTransport } from '../simulator/transport/vpcd/index.ts';

/** vicc's iso7816 ATR (T=1), which no OpenSC driver claims. */
const FLOOR_ATR = Uint8Array.of(0x3b, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xff, 0x01, 0x00, 0x0b);
const OK = Uint8Array.of(0x90, 0x00);

/** The floor of the stack: no card logic at all. */
class FloorCard implements SmartCard {
  atr(): Uint8Array {
    return FLOOR_ATR;
  }
  powerUp(): void {}
  powerDown(): void {}
  reset(): void {}
  transmit(): Uint8Array {
    return OK;
  }
}

const [kind, slotArg, qaArg, profile] = process.argv.slice(2);
const slot = Number(slotArg);
if (!['myna', 'floor'].includes(kind) || !Number.isInteger(slot) || !['on', 'off'].includes(qaArg) || (kind === 'myna' && !profile)) {
  console.error('usage: pcsc-card.ts myna|floor <slot> on|off [profile.json]');
  process.exit(2);
}

const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const card: SmartCard = kind === 'myna' ? buildCard(profile) : new FloorCard();
const transport = new VpcdTransport({
  card,
  slot,
  quickAck: qaArg === 'on',
  logger: { info: () => {}, warn: (m) => process.stderr.write(`pcsc-card: ${m}\n`) },
});
transport.on('visible', () => emit({ event: 'visible' }));
transport.on('disconnected', ({ reason }) => emit({ event: 'disconnected', reason }));

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void transport.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

await transport.start();
emit({ event: 'started', pid: process.pid, quickAck: transport.status().quickAck });
