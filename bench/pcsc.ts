/**
 * PC/SC benchmarks (issue 3): the card through the real stack (the project's client harness/pcsc →
 * pcscd → vsmartcard's vpcd → the card over TCP), compared in ONE run with the floor of the stack and
 * with vsmartcard's reference card vicc, under the same setting.
 *
 * Cards (each in its own process, as in real use; docs/pcsc-stack.md §3, §6):
 * - ours:  the virtual My Number Card behind simulator/transport/vpcd (bench/pcsc-card.ts myna …);
 * - floor: a card with no logic that answers every APDU 90 00, behind the same transport
 *          (bench/pcsc-card.ts floor …): client + pcscd + vpcd + our transport, nothing else;
 * - vicc:  Debian's python3-virtualsmartcard 0.8, `vicc -t iso7816`, with the two packaging
 *          workarounds of docs/pcsc-stack.md §3 (PYTHONPATH and a Crypto → Cryptodome symlink).
 *
 * Settings:
 * - stock Debian 12: vpcd 0.8 stalls every frame for the delayed-ACK timer (about 40 ms) unless the
 *   card re-arms TCP_QUICKACK ("card-side fix", our transport's `quickAck`). vicc has no such fix.
 * - route: the loopback route attribute `quickack 1` (scripts/pcsc-stack.sh quickack-route on,
 *   machine-wide, undone at the end): no stall for any card. The same-setting comparison.
 *
 * Method: an open SCARD_SHARE_SHARED T=1 handle per reader; two cards at a time (vpcd has two slots),
 * their APDU streams interleaved in blocks so that load from other processes on this shared machine
 * falls on both alike; 20 warm-ups, then N APDUs each timed with process.hrtime around the client's
 * transmit(); every response's status word is checked. Then the time from spawning `myna-hil serve` to
 * a watching client seeing the reader's state PRESENT, 10 runs with random gaps.
 *
 * The modules, one job each (bench/pcsc/): setup.ts (stack checks, lock, profile, vpcd readers, the
 * route, clean-up), cards.ts (the card launchers and the two slots), measure.ts (round trips through
 * pcscd, interleaved), serve-start.ts (serve spawned → reader PRESENT), rows.ts (the table rows with
 * their targets). This file runs the phases in order.
 *
 * Needs pcscd (bash scripts/pcsc-stack.sh start): without it the group says so and is skipped. Holds
 * the machine-wide PC/SC lock (harness/pcsc/env.ts) for the whole group; waits only on state,
 * with deadlines; stops every process it started and undoes the route even on failure.
 */
import { checkPcscEnv } from '../harness/pcsc/env.ts';
import { loadavg, repoRoot } from './machine.ts';
import { median } from './stats.ts';
import { skippedRow, type Row } from './table.ts';
import { Slots } from './pcsc/cards.ts';
import { Measurer, oursProbes, probe, SELECT_JPKI, SELECT_MF, type Probe } from './pcsc/measure.ts';
import { failedRow, GROUP_CMD, loadRow, ratioRow, rowsWithCommands, rttRow, serveRows } from './pcsc/rows.ts';
import { serveToPresent } from './pcsc/serve-start.ts';
import { Resources, routeHasQuickack, setUp } from './pcsc/setup.ts';

const N = 1000;
const N_STALLED = 100;
const SERVE_RUNS = 10;
/** APDUs per probe before switching to the next card: small, so that load bursts fall on all cards alike. */
const BLOCK = 10;

/** Stock Debian 12 (no route attribute): ours and the floor with the card-side fix, then ours without it and vicc. */
async function stockPhase(slots: Slots, m: Measurer, rows: Row[], log: (s: string) => void): Promise<Probe> {
  log(`pcsc: == stock Debian 12 (no route attribute): ${N} APDUs with the card-side fix, ${N_STALLED} without`);
  const s0 = await slots.ensure(0, { kind: 'myna', quickAck: true });
  const s1 = await slots.ensure(1, { kind: 'floor', quickAck: true });
  const [sel, ver] = oursProbes(s0, 'qa-on');
  const floor = probe('floor qa-on', s1, SELECT_JPKI);
  await m.measure('stock, card-side fix', [sel, floor, ver, floor], N, BLOCK);
  rows.push(
    rttRow(
      'PC/SC round trip, stock Debian, **ours with card-side fix** (quickAck on): SELECT JPKI AP → 90 00',
      sel,
      'median < 250 µs',
      median(sel.samples) < 250,
    ),
  );
  rows.push(rttRow('… same, ours: VERIFY query `00 20 00 80` on EF 0018 → 63 C3', ver, 'median < 250 µs', median(ver.samples) < 250));
  rows.push(rttRow('… same setting, floor card (90 00 at once, quickAck on): same SELECT', floor));
  rows.push(ratioRow('ours/floor, stock + card-side fix in both (SELECT medians)', sel, floor));

  const o0 = await slots.ensure(0, { kind: 'myna', quickAck: false });
  const v1 = await slots.ensure(1, { kind: 'vicc' });
  const [selOff] = oursProbes(o0, 'qa-off', false);
  const vicc = probe('vicc', v1, SELECT_MF);
  await m.measure('stock, no fix (the 40 ms stall)', [selOff, vicc], N_STALLED, 5);
  rows.push(rttRow('PC/SC round trip, stock Debian, vicc (no card-side fix exists): SELECT MF `00 A4 00 0C 02 3F 00` → 90 00', vicc, '(reference: ~44 ms)'));
  const mOff = median(selOff.samples);
  rows.push(
    rttRow(
      'PC/SC round trip, stock Debian, **ours WITHOUT the fix** (quickAck off): SELECT JPKI AP',
      selOff,
      '≈ 44 ms expected (the stall)',
      mOff > 30_000 && mOff < 60_000,
    ),
  );
  rows.push(ratioRow('ours/vicc, stock Debian: ours with the card-side fix vs vicc', sel, vicc));
  rows.push(ratioRow('ours/vicc, stock Debian, neither with a fix (both stalled)', selOff, vicc));
  return vicc;
}

/** Route quickack 1, the same setting for all: ours against vicc, then against the floor with the fix off and on. */
async function routePhase(slots: Slots, m: Measurer, rows: Row[], stockVicc: Probe | undefined): Promise<void> {
  const r0 = await slots.ensure(0, { kind: 'myna', quickAck: false });
  const r1 = await slots.ensure(1, { kind: 'vicc' });
  const [rOffSel, rOffVer] = oursProbes(r0, 'qa-off');
  const rVicc = probe('vicc', r1, SELECT_MF);
  await m.measure('route, ours without fix vs vicc', [rOffSel, rVicc, rOffVer, rVicc], N, BLOCK);
  await slots.ensure(1, { kind: 'floor', quickAck: false });
  const [rOffSel2] = oursProbes(slots.at(0), 'qa-off', false);
  const rFloorOff = probe('floor qa-off', slots.at(1), SELECT_JPKI);
  await m.measure('route, ours vs floor, no card-side fix', [rOffSel2, rFloorOff], N, BLOCK);
  await slots.ensure(0, { kind: 'myna', quickAck: true });
  await slots.ensure(1, { kind: 'floor', quickAck: true });
  const [rOnSel, rOnVer] = oursProbes(slots.at(0), 'qa-on');
  const rFloorOn = probe('floor qa-on', slots.at(1), SELECT_JPKI);
  await m.measure('route, ours vs floor, card-side fix', [rOnSel, rFloorOn, rOnVer, rFloorOn], N, BLOCK);
  await slots.ensure(0, undefined);
  await slots.ensure(1, undefined);

  const route = 'route quickack 1';
  rows.push(rttRow(`PC/SC round trip, ${route}, vicc: SELECT MF → 90 00`, rVicc));
  rows.push(rttRow(`PC/SC round trip, ${route}, ours quickAck off: SELECT JPKI AP (interleaved with vicc)`, rOffSel));
  rows.push(rttRow(`… same, ours quickAck off: VERIFY query → 63 C3`, rOffVer));
  rows.push(rttRow(`PC/SC round trip, ${route}, ours quickAck off: SELECT JPKI AP (interleaved with the floor)`, rOffSel2));
  rows.push(rttRow(`… same, floor quickAck off`, rFloorOff));
  rows.push(rttRow(`PC/SC round trip, ${route}, ours quickAck on: SELECT JPKI AP`, rOnSel));
  rows.push(rttRow(`… same, ours quickAck on: VERIFY query → 63 C3`, rOnVer));
  rows.push(rttRow(`… same, floor quickAck on`, rFloorOn));
  rows.push(ratioRow(`**ours/floor**, ${route}, both quickAck off (SELECT medians)`, rOffSel2, rFloorOff, '≤ 1.5×', 1.5));
  rows.push(ratioRow(`**ours/floor**, ${route}, both quickAck on (SELECT medians)`, rOnSel, rFloorOn, '≤ 1.5×', 1.5));
  rows.push(ratioRow(`ours/vicc, ${route}, ours quickAck off, same interleaved run`, rOffSel, rVicc));
  rows.push(ratioRow(`ours/vicc, ${route}, ours quickAck on`, rOnSel, rVicc));
  if (stockVicc) rows.push(ratioRow('vicc stock / vicc with the route (what the stall costs vicc)', stockVicc, rVicc));
}

export async function benchPcsc(log: (s: string) => void): Promise<Row[]> {
  const env = checkPcscEnv();
  if (!env.available) {
    const msg = env.reason ?? 'pcscd is not available';
    log(`pcsc: skipped: ${msg}`);
    log('pcsc: to run this group: bash scripts/pcsc-stack.sh start   (then: npm run bench -- --only pcsc)');
    return [skippedRow('PC/SC group (pcscd + vpcd)', msg, 'needs pcscd: `bash scripts/pcsc-stack.sh start`', GROUP_CMD)];
  }

  const res = new Resources(repoRoot());
  res.install();
  const rows: Row[] = [];
  let slots: Slots | undefined;
  let m: Measurer | undefined;
  try {
    const setup = await setUp(res, log);
    slots = new Slots(res, setup, log);
    m = new Measurer(res.live, log);

    const routeWasOn = routeHasQuickack();
    let stockVicc: Probe | undefined;
    if (routeWasOn) {
      log('pcsc: WARNING: the loopback route already has "quickack 1" (set by someone else): stock Debian cannot be measured now');
      rows.push({
        what: 'stock Debian rows',
        value: '**not measured**: the loopback route attribute quickack 1 was already set by someone else',
        target: 'route off',
        pass: false,
        command: GROUP_CMD,
      });
    } else {
      stockVicc = await stockPhase(slots, m, rows, log);
    }
    await slots.ensure(0, undefined);
    await slots.ensure(1, undefined);

    log(`pcsc: == myna-hil serve start → PRESENT, ${SERVE_RUNS} runs with random gaps (routeWasOn=${routeWasOn})`);
    rows.push(...serveRows(await serveToPresent(res, setup, SERVE_RUNS, log)));

    if (!routeWasOn) {
      log('pcsc: == loopback route quickack 1 (machine-wide, undone at the end of this group)');
      res.routeOn();
    }
    await routePhase(slots, m, rows, stockVicc);
    if (!routeWasOn) {
      res.routeOff();
      log('pcsc: loopback route attribute removed');
    }

    rows.push(loadRow(setup.loadStart, loadavg()));
    process.stderr.write(`\nbench: pcsc: rows with their commands (markdown):\n\n${rowsWithCommands(rows).join('\n')}\n\n`);
    return rows;
  } catch (err) {
    // Keep the other groups' results: report the failure as a row (run.ts then exits non-zero).
    const msg = (err as Error).message;
    log(`pcsc: FAILED: ${msg}`);
    rows.push(failedRow(msg));
    return rows;
  } finally {
    m?.stop();
    await slots?.clear();
    await res.close(log);
  }
}
