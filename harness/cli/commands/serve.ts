/**
 * `myna-hil serve --card <profile>`: serves the virtual card into a vpcd reader of pcscd until
 * SIGINT/SIGTERM. The work is in harness/serve/serve.ts.
 */
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../../simulator/errors.ts';
import { defaultControlPath, startServe, type BuildCard, type ServeIO } from '../../serve/serve.ts';

interface ServeArgs {
  card: string;
  slot: number;
  state?: string;
  atr?: string;
  host: string;
  'vpcd-port': number;
  reversed: boolean;
  'quick-ack': boolean;
  control?: string;
  verbose: boolean;
  record?: string;
}

export interface ServeCommandDeps {
  /** Builds the card (default: harness/load-card.ts's buildCard, loaded lazily). */
  buildCard: BuildCard;
  io: ServeIO;
  /** Where SIGINT/SIGTERM/SIGUSR1/SIGUSR2 are subscribed (default: process). */
  signals: Pick<NodeJS.Process, 'on' | 'off'>;
  /** Called with the exit code once stopped (default: process.exitCode = code). */
  exit(code: number): void;
}

const loadBuildCard: BuildCard = async (profile, state, atr) => {
  const { buildCard } = await import('../../load-card.ts');
  return buildCard(profile, state, atr);
};

export function createServeCommand(overrides: Partial<ServeCommandDeps> = {}): CommandModule<object, ServeArgs> {
  const deps: ServeCommandDeps = {
    buildCard: loadBuildCard,
    io: { out: (l) => console.log(l), err: (l) => console.error(l) },
    signals: process,
    exit: (code) => {
      process.exitCode = code;
    },
    ...overrides,
  };
  return {
    command: 'serve',
    describe: 'Serve the virtual card into a vpcd reader of pcscd (a real PC/SC reader for every client)',
    builder: (y: Argv) =>
      y
        .option('card', { type: 'string', demandOption: true, describe: 'Card profile (JSON) to serve', normalize: true })
        .option('slot', { type: 'number', default: 0, describe: "vpcd slot: 0 = port 35963 (reader 'Virtual PCD 00 00'), 1 = 35964 ('Virtual PCD 00 01')" })
        .option('state', {
          type: 'string',
          describe: 'State file (PINs, retry counters), created on first use; default: in memory, lost at exit',
          normalize: true,
        })
        .option('atr', { type: 'string', describe: "ATR to present, hex (default: the profile's)" })
        .option('host', {
          type: 'string',
          default: '127.0.0.1',
          describe: "vpcd's address (or, with --reversed, the address to listen on). IPv4: vpcd does not listen on ::1",
        })
        .option('vpcd-port', { type: 'number', default: 35963, describe: "vpcd's port for slot 0 (the reader.conf CHANNELID); slot N uses this + N" })
        .option('reversed', {
          type: 'boolean',
          default: false,
          describe:
            'vpcd reversed mode: the card listens and vpcd connects (scripts/pcsc-stack.sh reversed-mode on). See the caveat in scripts/pcsc-stack.sh --help: Debian 12 vpcd 0.8 aborts pcscd on removal in this mode',
        })
        .option('quick-ack', {
          type: 'boolean',
          default: true,
          describe:
            "Re-arm TCP_QUICKACK after every read (needs the optional npm package koffi; removes Debian vpcd 0.8's 40 ms stall per message). --no-quick-ack to compare",
        })
        .option('control', {
          type: 'string',
          describe: 'Control socket path (HTTP on a Unix socket, mode 0600 from its creation); the default is in a directory of mode 0700 made for it',
          defaultDescription: defaultControlPath(0).replace('slot0', 'slot<N>'),
        })
        .option('verbose', { type: 'boolean', default: false, alias: 'v', describe: 'Also log the GET ATR presence polls (every 0.4 s)' })
        .option('record', {
          type: 'string',
          normalize: true,
          describe: 'Record the session (what the card saw, PIN data masked) to this JSON Lines file; see docs/sessions.md',
        })
        .check((a) => {
          if (!Number.isInteger(a.slot) || a.slot < 0 || a.slot > 15)
            throw new InputError(`--slot ${a.slot}: a vpcd slot is 0..15 (Debian's vpcd has 0 and 1)`);
          if (!Number.isInteger(a['vpcd-port']) || a['vpcd-port'] < 1 || a['vpcd-port'] + a.slot > 65535)
            throw new InputError(`--vpcd-port ${a['vpcd-port']}: not a TCP port`);
          return true;
        })
        .epilog(
          [
            'Needs pcscd with vsmartcard-vpcd (bash scripts/pcsc-stack.sh install, then start).',
            'The card is in the reader once vpcd has polled it: logged as "card visible".',
            '',
            'Remove, insert, reset while it runs, through the control socket (HTTP on a',
            'Unix socket, usable only by the user running serve), e.g. with curl:',
            '  curl -s --unix-socket SOCK -X POST http://serve/remove  card out of the reader',
            '  curl -s --unix-socket SOCK -X POST http://serve/insert  back in, same card/state',
            '  curl -s --unix-socket SOCK -X POST http://serve/reset   warm reset in place',
            '  curl -s --unix-socket SOCK http://serve/status          JSON status',
            'or with signals to the pid serve prints:',
            '  SIGUSR1 (kill -USR1 PID)  toggles removal / insertion',
            '  SIGUSR2 (kill -USR2 PID)  warm reset in place',
            '  SIGINT, SIGTERM           stop (the card leaves the reader)',
            'A reset in place clears the volatile state (selected application, verified',
            'PINs) without telling the reader; remove + insert is the reset clients see.',
            '',
            'Logs: each APDU as "> command (NAME)" and "< response SW (NAME) time", with',
            'VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER and CHANGE KEY shown as',
            'their header then <redacted> (Lc too), long commands cut to their first 16',
            'bytes and their length, responses as their length and SW;',
            'reader power events; the GET ATR presence polls only with --verbose.',
          ].join('\n'),
        )
        .example('$0 serve --card card.json --state card.state.json', 'serve into "Virtual PCD 00 00"')
        .example('$0 serve --card a.json --slot 1 --no-quick-ack', 'second reader, without the stall fix')
        .example('$0 serve --card card.json --record session.jsonl', 'serve and record what the card sees (replay it with myna-hil replay)')
        .example('$0 serve --card card.json --reversed', 'vpcd reversed mode (card listens on 127.0.0.1:35963)') as unknown as Argv<ServeArgs>,
    handler: async (a: ServeArgs) => {
      const running = await startServe(
        {
          card: a.card,
          state: a.state,
          atr: a.atr,
          slot: a.slot,
          host: a.host,
          basePort: a['vpcd-port'],
          reversed: a.reversed,
          quickAck: a['quick-ack'],
          control: a.control,
          verbose: a.verbose,
          record: a.record,
        },
        deps.buildCard,
        deps.io,
      );
      await new Promise<void>((resolve) => {
        let stopSignals = 0;
        const onStop = (sig: string) => {
          stopSignals++;
          if (stopSignals > 1) {
            deps.io.err(`${sig} again: exiting at once`);
            deps.exit(130);
            process.exit(130);
          }
          deps.io.out(`${sig}: stopping`);
          void running.stop().then(() => {
            cleanup();
            resolve();
          });
        };
        const onInt = () => onStop('SIGINT');
        const onTerm = () => onStop('SIGTERM');
        const onUsr1 = () => void running.toggle();
        const onUsr2 = () => void running.reset('signal');
        const cleanup = () => {
          deps.signals.off('SIGINT', onInt);
          deps.signals.off('SIGTERM', onTerm);
          deps.signals.off('SIGUSR1', onUsr1);
          deps.signals.off('SIGUSR2', onUsr2);
        };
        deps.signals.on('SIGINT', onInt);
        deps.signals.on('SIGTERM', onTerm);
        deps.signals.on('SIGUSR1', onUsr1);
        deps.signals.on('SIGUSR2', onUsr2);
      });
      deps.exit(0);
    },
  };
}

export default createServeCommand();
