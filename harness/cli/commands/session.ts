/**
 * `myna-hil session export <session.jsonl> --format apdu4j [--out F]`: a recorded session (docs/sessions.md)
 * in another tool's format. Exit 2 for a malformed session file (file:line and what is wrong).
 */
import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../../simulator/errors.ts';
import { toApdu4jDump } from '../../session/apdu4j.ts';
import { readSession } from '../../session/read.ts';

interface ExportArgs {
  session: string;
  format: 'apdu4j';
  out?: string;
}

const exportCmd: CommandModule<object, ExportArgs> = {
  command: 'export <session>',
  describe: "Export a recorded session in apdu4j's dump format",
  builder: (y: Argv) =>
    y
      .positional('session', { type: 'string', demandOption: true, describe: 'Session file (JSON Lines) from run --record or serve --record' })
      .option('format', { type: 'string', choices: ['apdu4j'] as const, default: 'apdu4j' as const, describe: 'Output format' })
      .option('out', { type: 'string', describe: 'Write to this file (default: standard output)' })
      .example('$0 session export reports/sessions/kiosk--client-001.jsonl --format apdu4j', 'the dump on standard output')
      .example('$0 session export s.jsonl --format apdu4j --out s.dump', 'to a file') as unknown as Argv<ExportArgs>,
  handler: (a) => {
    const dump = toApdu4jDump(readSession(a.session));
    if (!a.out) {
      process.stdout.write(dump);
      return;
    }
    try {
      writeFileSync(a.out, dump);
    } catch (err) {
      throw new InputError(`--out ${a.out}: cannot write it: ${(err as Error).message}`);
    }
  },
};

const cmd: CommandModule = {
  command: 'session <command>',
  describe: 'Work with recorded sessions (docs/sessions.md)',
  builder: (y) => y.command(exportCmd).demandCommand(1, 'Name a session command: export'),
  handler: () => {},
};

export default cmd;
