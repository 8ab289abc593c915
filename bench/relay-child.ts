/**
 * Child process of the relay benchmark (bench/relay.ts): `startRelay` in its own process, as
 * `myna-hil relay` runs it, in front of the stand-in card.
 *
 *   node bin/run-ts.mjs bench/relay-child.ts <slot> <reader regex> <allowed auth-cert SHA-256>
 *
 * Card I/O is synchronous, as `myna-hil relay` has it (RelayOptions.io). The physical side is opened SHARED (RelayOptions.share, benchmarks only): the benchmark keeps its own
 * handle on the stand-in card's reader to time the direct path in the same run, interleaved with the
 * relayed one. Prints JSON lines on stdout: `{"event":"started","physicalReader":…}` once the virtual
 * card is visible. Stops on SIGTERM/SIGINT and when its stdin closes, so it never outlives the benchmark.
 */
import { startRelay } from '../harness/relay/relay.ts';

const [slotArg, reader, sha] = process.argv.slice(2);
const slot = Number(slotArg);
if (!Number.isInteger(slot) || !reader || !/^[0-9a-f]{64}$/.test(sha ?? '')) {
  console.error('usage: relay-child.ts <slot> <reader regex> <sha256>');
  process.exit(2);
}

const relay = await startRelay({
  reader,
  slot,
  allowCards: [sha],
  share: 'shared',
  env: {},
  io: 'sync',
  onEvent: (e) => {
    if (e.type === 'error') process.stderr.write(`relay-child: ${e.message}\n`);
  },
});
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void relay.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
await relay.waitVisible(15_000);
process.stdout.write(`${JSON.stringify({ event: 'started', physicalReader: relay.physicalReader, virtualReader: relay.virtualReader })}\n`);
