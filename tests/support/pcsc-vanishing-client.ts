/**
 * A PC/SC client that vanishes mid-exchange, for tests/pcsc/card-faults.test.ts (run it with
 * `node bin/run-ts.mjs tests/support/pcsc-vanishing-client.ts <reader> <wrong auth PIN>`):
 *
 * connects EXCLUSIVELY, selects the JPKI AP, spends one auth PIN try with the wrong value it was
 * given, then reads the auth certificate over and over (flow 11.1's reads) until it is killed. It
 * prints `spent <SW>` and then `reading` once it is in the loop; the test SIGKILLs it there.
 */
import { openPcsc } from '../../harness/pcsc/index.ts';
import { encodeCommand } from '../../simulator/apdu/codec.ts';

const [reader, wrong] = process.argv.slice(2);
if (!reader || !wrong) {
  console.error('usage: pcsc-vanishing-client.ts <reader> <wrong auth PIN>');
  process.exit(2);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();
const ctx = await openPcsc();
await ctx.waitForCard(reader, 'present', { timeoutMs: 10_000 });
const h = await ctx.connect(reader, { share: 'exclusive' });
const tx = async (cmd: string | Uint8Array) => hex(await h.transmit(typeof cmd === 'string' ? Buffer.from(cmd, 'hex') : cmd));

if ((await tx('00A4040C0AD392F000260100000001')) !== '9000') throw new Error('SELECT JPKI failed');
await tx('00A4020C020018');
const data = Buffer.from(wrong, 'latin1');
console.log(`spent ${await tx(Uint8Array.from([0x00, 0x20, 0x00, 0x80, data.length, ...data]))}`);

for (let round = 0; ; round++) {
  await tx('00A4020C02000A');
  const head = Buffer.from(await tx('00B0000004'), 'hex');
  const size = ((head[2] << 8) | head[3]) + 4;
  for (let off = 0; off < size; off += 256) {
    await tx(encodeCommand({ cla: 0, ins: 0xb0, p1: off >> 8, p2: off & 0xff, ne: Math.min(256, size - off) }));
  }
  if (round === 0) console.log('reading');
}
