/**
 * The scenario runner's own time per scenario (issue: under 100 ms on `sim`, under 1 s on `vpcd`), the
 * client's time excluded. Runs the fixed bench suite (bench/fixtures/scenario/suite.yaml: card actions
 * only, a trivial module client, a removal and insertion) through runScenarios, as `myna-hil run` does,
 * several times per target after one uncounted warm-up run. Every event is stamped as the runner emits
 * it; every client run's own duration is recorded by wrapping runClient. Per scenario, the harness's
 * time is the runner's scenario duration minus its clients' own durations (bench/scenario-rows.ts).
 *
 * The profiles are generated once for the group (generation takes about a second and is not the
 * runner's per-scenario work). `vpcd` needs pcscd (bash scripts/pcsc-stack.sh start) and holds the
 * machine-wide PC/SC lock while it runs; without pcscd its rows are reported skipped.
 */
import { join } from 'node:path';
import { runClient } from '../harness/clients/index.ts';
import { acquirePcscLock, checkPcscEnv, type PcscEnv } from '../harness/pcsc/env.ts';
import { runScenarios } from '../harness/runner/run.ts';
import { loadManifest, loadScenarios } from '../harness/scenario/load.ts';
import type { ClientManifest, Scenario } from '../harness/scenario/model.ts';
import { cachedGenerator, type ProfileSource } from '../harness/targets/card-host.ts';
import { hostedTarget } from '../harness/targets/index.ts';
import { loadavg, repoRoot } from './machine.ts';
import {
  type ClientTime,
  failedRow,
  type HostedKind,
  presenceChanges,
  SCENARIO_CMD,
  type ScenarioTiming,
  scenarioTimings,
  type Stamped,
  targetRows,
} from './scenario-rows.ts';
import { skippedRow, type Row } from './table.ts';

const RUNS: Record<HostedKind, number> = { sim: 30, vpcd: 10 };

export interface Suite {
  scenarios: Scenario[];
  manifest: ClientManifest;
  profiles: ProfileSource;
}

const changesOf = (suite: Suite) => new Map(suite.scenarios.map((s) => [s.name, presenceChanges(s)]));

/** One run of the suite; the timing of each scenario. */
export async function runOnce(kind: HostedKind, suite: Suite): Promise<ScenarioTiming[]> {
  const events: Stamped[] = [];
  const clients: ClientTime[] = [];
  let current = '';
  const summary = await runScenarios(suite.scenarios, {
    target: hostedTarget(kind, { profiles: suite.profiles }),
    manifest: suite.manifest,
    runClient: async (input) => {
      const r = await runClient(input);
      clients.push({ scenario: current, ms: r.durationMs });
      return r;
    },
    emit: (event) => {
      if (event.type === 'scenario-start') current = event.scenario;
      events.push({ at: performance.now(), event });
    },
    // Sub-millisecond epoch time, so that the runner's own durations are as fine as the stamps.
    now: () => performance.timeOrigin + performance.now(),
  });
  if (summary.exitCode === 3) throw new Error(`target ${kind} cannot run (exit code 3)`);
  return scenarioTimings(events, clients);
}

async function measure(kind: HostedKind, suite: Suite, log: (s: string) => void): Promise<ScenarioTiming[]> {
  log(`scenario: ${kind}: warm-up run, then ${RUNS[kind]} runs of ${suite.scenarios.length} scenarios`);
  await runOnce(kind, suite);
  const all: ScenarioTiming[] = [];
  for (let i = 0; i < RUNS[kind]; i++) all.push(...(await runOnce(kind, suite)));
  return all;
}

/** The vpcd rows: skipped without pcscd, measured under the machine-wide PC/SC lock otherwise. */
export async function vpcdRows(suite: Suite, log: (s: string) => void, env: PcscEnv = checkPcscEnv()): Promise<Row[]> {
  if (!env.available) {
    log(`scenario: vpcd skipped: ${env.reason}`);
    return [
      skippedRow('vpcd: the bench suite’s scenarios', env.reason ?? 'pcscd is not available', 'needs pcscd: `bash scripts/pcsc-stack.sh start`', SCENARIO_CMD),
    ];
  }
  log('scenario: vpcd: waiting for the machine-wide PC/SC lock');
  let release: (() => void) | undefined;
  try {
    release = await acquirePcscLock(600_000);
    return targetRows('vpcd', await measure('vpcd', suite, log), changesOf(suite));
  } catch (err) {
    // Keep the sim rows: report the failure as a row (run.ts then exits non-zero).
    log(`scenario: vpcd FAILED: ${(err as Error).message}`);
    return [failedRow('vpcd', (err as Error).message)];
  } finally {
    release?.();
  }
}

/** The fixed bench suite (bench/fixtures/scenario), with one profile source for the whole group. */
export function benchSuite(): Suite {
  const dir = join(repoRoot(), 'bench/fixtures/scenario');
  return { scenarios: loadScenarios(join(dir, 'suite.yaml')), manifest: loadManifest(join(dir, 'clients.yaml')), profiles: cachedGenerator() };
}

export async function benchScenario(log: (s: string) => void): Promise<Row[]> {
  const suite = benchSuite();
  const loadStart = loadavg();
  const rows = targetRows('sim', await measure('sim', suite, log), changesOf(suite));
  rows.push(...(await vpcdRows(suite, log)));
  rows.push({
    what: 'load average (1/5/15 min) at the start / end of the scenario group',
    value: `${loadStart} / ${loadavg()}`,
    target: '(2 cores, shared)',
    pass: true,
    command: 'cat /proc/loadavg',
  });
  return rows;
}
