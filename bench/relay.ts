/**
 * Relay benchmark (issue 9): what the relay adds to every APDU, measured against the simulator standing
 * in as the physical card, relayed and direct in ONE run.
 *
 * - stand-in: the virtual card in its own process in vpcd slot 1 (bench/pcsc-card.ts, card-side fix on);
 * - relay: `startRelay` in its own process (bench/relay-child.ts) serving slot 0 in front of slot 1;
 * - direct: the benchmark's own handle on slot 1; relayed: its handle on slot 0;
 * - direct, synchronous: the same SELECT to slot 1 through libpcsclite called directly (koffi), as the
 *   relay's physical side does it, beside the `pcsclite` binding's: the reason for that design.
 *
 * The two paths are interleaved in blocks of 10 APDUs (so that load from other processes on this shared
 * machine falls on both alike), 20 warm-ups, N timed APDUs each with process.hrtime around the client's
 * transmit(), every status word checked. The relay adds one PC/SC round trip (relay → pcscd → vpcd →
 * stand-in) to the direct path, so "added" is the difference of the medians (and of the p99s).
 *
 * Needs pcscd (bash scripts/pcsc-stack.sh start); holds the machine-wide PC/SC lock; stops what it started.
 */
import { createInterface } from 'node:readline';
import { checkPcscEnv } from '../harness/pcsc/env.ts';
import { connectDirect } from '../harness/pcsc/direct.ts';
import { authCertSha256 } from '../harness/targets/card-host.ts';
import { vpcdReaderName } from '../harness/pcsc/index.ts';
import { loadProfile } from '../simulator/profile/io.ts';
import { exitOf, stopProcess } from './child.ts';
import { loadavg, repoRoot } from './machine.ts';
import { type Inserted, Slots } from './pcsc/cards.ts';
import { Measurer, type Probe, probe, SELECT_JPKI, SELECT_PIN_EF, VERIFY_QUERY } from './pcsc/measure.ts';
import { fmtUs, loadRow } from './pcsc/rows.ts';
import { Resources, setUp } from './pcsc/setup.ts';
import { fmt, median, percentile } from './stats.ts';
import { type Row, skippedRow } from './table.ts';

const N = 1000;
const BLOCK = 10;
const CMD = 'npm run bench -- --only relay';
/** Issue 9's target for the median added per APDU. */
const TARGET_ADDED_US = 300;

export async function benchRelay(log: (s: string) => void): Promise<Row[]> {
  const env = checkPcscEnv();
  if (!env.available)
    return [skippedRow('relay: added latency per APDU', env.reason ?? 'PC/SC unavailable', 'pcscd + vpcd (bash scripts/pcsc-stack.sh start)', CMD)];
  const res = new Resources(repoRoot());
  res.install();
  try {
    const setup = await setUp(res, log);
    const slots = new Slots(res, setup, log);
    const standIn = await slots.ensure(1, { kind: 'myna', quickAck: true });
    const relayed = await startRelayChild(res, setup.pcsc, setup.profilePath, log);
    // The relay mirrors the virtual card's power-up as a cold reset of the stand-in, which resets the
    // benchmark's direct handle: one APDU through the relay settles it, then the direct handle reconnects.
    await relayed.handle.transmit(SELECT_JPKI);
    await standIn.handle.reconnect('leave');
    // the benchmark's own synchronous handle on the stand-in (the stand-in runs in another process)
    const syncHandle = await connectDirect(vpcdReaderName(1), 'shared');
    const m = new Measurer(res.live, log);
    try {
      const sel = [probe('relay SELECT', relayed, SELECT_JPKI), probe('direct SELECT', standIn, SELECT_JPKI)];
      const sync = probe('direct SELECT, sync', { ...standIn, handle: syncHandle as unknown as Inserted['handle'], command: standIn.command }, SELECT_JPKI);
      const verifySetup = [SELECT_JPKI, SELECT_PIN_EF];
      const ver = [probe('relay VERIFY?', relayed, VERIFY_QUERY, 0x63c3, verifySetup), probe('direct VERIFY?', standIn, VERIFY_QUERY, 0x63c3, verifySetup)];
      await m.measure('relay vs direct', [sel[0], sel[1], ver[0], ver[1], sync], N, BLOCK);
      const loadEnd = loadavg();
      await relayed.handle.disconnect('leave').catch(() => {});
      await slots.clear();
      return [
        ...pairRows('SELECT JPKI AP → 90 00', sel[0], sel[1]),
        ...pairRows('VERIFY query `00 20 00 80` on EF 0018 → 63 C3', ver[0], ver[1]),
        {
          what: '… the SELECT directly to the stand-in through libpcsclite called synchronously (koffi: the physical side of `myna-hil relay`, harness/pcsc/direct.ts)',
          value: rtt(sync),
          target: '(reference)',
          pass: true,
          command: CMD,
        },
        {
          what: '… `pcsclite` binding / synchronous call, same SELECT, same run (why the relay calls libpcsclite directly)',
          value: `${fmt(median(sel[1].samples) / median(sync.samples), 2)}×: ${fmtUs(median(sel[1].samples))} / ${fmtUs(median(sync.samples))}`,
          target: '(reference)',
          pass: true,
          command: CMD,
        },
        loadRow(setup.loadStart, loadEnd),
      ];
    } finally {
      m.stop();
      await syncHandle.disconnect('leave').catch(() => {});
    }
  } catch (err) {
    return [{ what: 'relay group', value: `**failed**: ${(err as Error).message}`, target: 'completes', pass: false, command: CMD }];
  } finally {
    await res.close(log);
  }
}

const rtt = (p: Probe) => `median ${fmtUs(median(p.samples))}, p99 ${fmtUs(percentile(p.samples, 99))} (N=${p.samples.length})`;

function pairRows(what: string, relay: Probe, direct: Probe): Row[] {
  const added = median(relay.samples) - median(direct.samples);
  const addedP99 = percentile(relay.samples, 99) - percentile(direct.samples, 99);
  return [
    {
      what: `relay: ${what}, client → relay (slot 0) → stand-in card (slot 1)`,
      value: rtt(relay),
      target: '(reference)',
      pass: true,
      command: `${CMD} (relay: \`${relay.ins.command}\`)`,
    },
    {
      what: `… same APDU, client → stand-in card directly (slot 1), interleaved`,
      value: rtt(direct),
      target: '(reference)',
      pass: true,
      command: `${CMD} (card: \`${direct.ins.command}\`)`,
    },
    {
      what: '… of which the relay itself (added − one direct round trip, the extra pcscd + vpcd hop any vpcd relay has)',
      value: `median ${fmt(added - median(direct.samples))} µs`,
      target: '(reference)',
      pass: true,
      command: CMD,
    },
    {
      what: `… **added by the relay** (relay − direct)`,
      value: `median ${fmt(added)} µs, p99 ${fmt(addedP99)} µs`,
      target: `median < ${TARGET_ADDED_US} µs`,
      pass: added < TARGET_ADDED_US,
      command: CMD,
    },
  ];
}

/** The relay in its own process on slot 0 in front of slot 1, and the benchmark's handle on its reader. */
async function startRelayChild(
  res: Resources,
  pcsc: Awaited<ReturnType<typeof setUp>>['pcsc'],
  profilePath: string,
  log: (s: string) => void,
): Promise<Inserted> {
  const sha = authCertSha256(loadProfile(profilePath));
  const physical = `^${vpcdReaderName(1)}$`;
  const args = ['bin/run-ts.mjs', 'bench/relay-child.ts', '0', physical, sha];
  log(`relay: starting the relay in front of "${vpcdReaderName(1)}" …`);
  const proc = res.spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  proc.stderr!.on('data', (d: Buffer) => {
    stderr.push(d.toString());
    log(`relay: ${d.toString().trim()}`); // the relay says so when its synchronous card I/O is unavailable
  });
  const started = new Promise<void>((resolve) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"started"')) resolve();
    });
  });
  try {
    await Promise.race([started, exitOf(proc, 'the relay', stderr)]);
    const reader = vpcdReaderName(0);
    await pcsc.waitForCard(reader, 'present', { timeoutMs: 15_000 });
    const handle = await pcsc.connect(reader, { share: 'shared', protocol: 'T1' });
    return { spec: { kind: 'myna', quickAck: true }, slot: 0, reader, proc, command: `node ${args.join(' ').replace(sha, '<sha256>')}`, handle };
  } catch (err) {
    await stopProcess(proc);
    throw err;
  }
}
