/**
 * `myna-hil run [paths…]`: runs scenario files against a target with the clients of a manifest and
 * writes the reports. Exit codes: 0 all passed, 1 a scenario failed, 2 bad input (a scenario, a manifest,
 * an option), 3 the environment is broken (no pcscd, no reader, a client program missing), 4 the guard
 * refused (a physical card near its lock, or a card not allowed). The scenario format: docs/scenarios.md.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { InputError } from '../../../simulator/errors.ts';
import { runClient } from '../../clients/index.ts';
import { createReporters, REPORTERS } from '../../reporters/index.ts';
import type { RunEvent } from '../../runner/events.ts';
import { runScenarios } from '../../runner/run.ts';
import { findScenarioFiles, loadManifest, loadScenarios } from '../../scenario/load.ts';
import type { ClientManifest, Scenario } from '../../scenario/model.ts';
import type { Target } from '../../targets/target.ts';
import { HARNESS_VERSION } from '../../version.ts';
import { checkFloor, FLOOR_OPTION, forTargets, parseSw, REFUSE_SW_OPTION } from '../guard-options.ts';

interface Args {
  paths: string[];
  target: 'sim' | 'vpcd' | 'pcsc' | 'relay';
  clients?: string;
  reporter: string[];
  out: string;
  grep?: string;
  bail: boolean;
  slot: number;
  reader?: string;
  'allow-card'?: string[];
  'allow-cards-file'?: string;
  'allow-destructive': boolean;
  pins?: string;
  floor: number;
  'refuse-sw': string;
  record?: string;
}

/** The manifest: --clients, else a clients.yaml beside the first scenario path (a suite's default). */
function manifestPath(args: Args): string | undefined {
  if (args.clients) return args.clients;
  const first = args.paths[0];
  if (!first) return undefined;
  const dir = existsSync(first) && statSync(first).isDirectory() ? first : dirname(first);
  const candidate = join(dir, 'clients.yaml');
  return existsSync(candidate) ? candidate : undefined;
}

async function makeTarget(args: Args): Promise<Target> {
  switch (args.target) {
    case 'sim':
    case 'vpcd': {
      const { hostedTarget } = await import('../../targets/index.ts');
      return hostedTarget(args.target, { slot: args.slot });
    }
    case 'pcsc': {
      if (!args.reader) throw new InputError('--target pcsc needs --reader <regex> (matching exactly one reader)');
      const { PcscTarget } = await import('../../targets/pcsc.ts');
      return new PcscTarget({
        reader: args.reader,
        allowCards: args['allow-card'],
        allowCardsFile: args['allow-cards-file'],
        allowDestructive: args['allow-destructive'],
        floor: args.floor,
        pinsFile: args.pins,
      });
    }
    case 'relay': {
      if (!args.reader) throw new InputError('--target relay needs --reader <regex> (matching exactly one physical reader)');
      const { RelayTarget } = await import('../../targets/relay.ts');
      return new RelayTarget({
        reader: args.reader,
        slot: args.slot,
        allowCards: args['allow-card'],
        allowCardsFile: args['allow-cards-file'],
        allowDestructive: args['allow-destructive'],
        floor: args.floor,
        refuseSw: parseSw(args['refuse-sw']),
        pinsFile: args.pins,
      });
    }
  }
}

const cmd: CommandModule<object, Args> = {
  command: 'run [paths..]',
  describe: 'Run scenario files against the virtual card (or a reader) with the clients of a manifest, and write reports',
  builder: (y) =>
    y
      .positional('paths', { type: 'string', array: true, default: ['scenarios/examples'], describe: 'Scenario files or directories (**/*.yaml)' })
      .option('target', {
        type: 'string',
        choices: ['sim', 'vpcd', 'pcsc', 'relay'] as const,
        default: 'sim' as const,
        describe:
          'sim: the card in this process; vpcd: the card served into pcscd for PC/SC clients; pcsc: a physical card (guarded); ' +
          'relay: a physical card behind a vpcd reader (--slot), so that exec clients pass the guard too',
      })
      .option('clients', { type: 'string', describe: 'Client manifest (default: clients.yaml beside the first path)' })
      .option('reporter', {
        type: 'string',
        array: true,
        default: ['console', 'json', 'junit', 'html'],
        describe: `Reporters: ${Object.keys(REPORTERS).join(', ')}`,
      })
      .option('out', { type: 'string', default: 'reports', describe: 'Directory for report files' })
      .option('grep', { type: 'string', describe: 'Run only scenarios whose name, id or file contains this text' })
      .option('bail', { type: 'boolean', default: false, describe: 'Stop after the first scenario that does not pass' })
      .option('slot', { type: 'number', default: 1, describe: 'vpcd slot for --target vpcd or relay (reader "Virtual PCD 00 0N")' })
      .option('reader', { type: 'string', describe: '--target pcsc or relay: a regular expression matching exactly one (physical) reader' })
      .option('allow-card', {
        type: 'string',
        array: true,
        describe: '--target pcsc or relay: SHA-256 (hex) of the auth certificate of a test card the lab allows',
      })
      .option('allow-cards-file', { type: 'string', describe: '--target pcsc or relay: a file of such hashes, one a line (# comments)' })
      .option('allow-destructive', {
        type: 'boolean',
        default: false,
        describe: '--target pcsc or relay: let scenarios marked destructive spend tries below the floor of 2',
      })
      .option('pins', {
        type: 'string',
        describe: "--target pcsc or relay: the physical card's PIN values, JSON or KEY=VALUE lines (else MYNA_HIL_PIN_AUTH, _SIGN, _JUKI, _KENMEN)",
      })
      .option('floor', forTargets(FLOOR_OPTION, 'pcsc or relay'))
      .option('refuse-sw', forTargets(REFUSE_SW_OPTION, 'relay'))
      .option('record', {
        type: 'string',
        describe: "Record each scenario's card session (JSON Lines, PIN data masked) in this directory (default <out>/sessions); see docs/sessions.md",
      })
      .check((a) => {
        checkFloor(a.floor);
        parseSw(a['refuse-sw']);
        return true;
      })
      .example('$0 run --record', 'the example suite, one session file per scenario in reports/sessions')
      .example('$0 run', 'the example suite with the reference kiosk on the in-process card')
      .example('$0 run scenarios/examples --clients scenarios/examples/clients-faulty.yaml', 'the same suite against the faulty kiosk: fails')
      .example('$0 run scenarios/examples --grep CLIENT-012 --reporter console', 'one scenario, console only')
      .example('$0 run my-suite --target vpcd --clients my-clients.yaml', 'a vendor client over real PC/SC')
      .example('MYNA_HIL_PIN_AUTH=… $0 run lab-suite --target pcsc --reader "SONY" --allow-cards-file lab-cards.txt', 'a physical test card, guarded')
      .example(
        'MYNA_HIL_PIN_AUTH=… $0 run lab-suite --target relay --reader "SONY" --slot 0 --allow-cards-file lab-cards.txt',
        'the same card for exec clients too, on "Virtual PCD 00 00" (a guard refusal: exit 4)',
      )
      .example(
        '$0 run lab-suite --target relay --reader "SONY" --slot 0 --pins lab-pins.env --floor 1 --refuse-sw 6982 --record',
        'refuse PIN commands at 1 try left, answering 6982; one session per scenario in reports/sessions',
      ),
  handler: async (args) => {
    const files = findScenarioFiles(args.paths);
    if (files.length === 0) throw new InputError(`${args.paths.join(', ')}: no scenario files (*.yaml) there`);
    const scenarios: Scenario[] = files.flatMap((f) => loadScenarios(f));
    const mPath = manifestPath(args);
    const manifest: ClientManifest | undefined = mPath ? loadManifest(mPath) : undefined;
    const reporters = createReporters(args.reporter.flatMap((r) => r.split(',')).filter(Boolean), {
      outDir: resolve(args.out),
      out: process.stdout,
      tty: !!process.stdout.isTTY,
    });
    const target = await makeTarget(args);
    const emit = (e: RunEvent) => {
      for (const r of reporters) r.onEvent(e);
    };
    let exitCode: number;
    try {
      const record = args.record === undefined ? undefined : { dir: resolve(args.record || join(args.out, 'sessions')) };
      exitCode = (
        await runScenarios(scenarios, { target, manifest, runClient, emit, grep: args.grep, bail: args.bail, harnessVersion: HARNESS_VERSION, record })
      ).exitCode;
    } finally {
      await target.close();
    }
    const written = (await Promise.all(reporters.map((r) => r.finish()))).flat();
    if (written.length) console.log(`reports: ${written.join(', ')}`);
    process.exitCode = exitCode;
  },
};

export default cmd;
