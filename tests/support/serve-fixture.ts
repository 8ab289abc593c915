/**
 * Runs the real `serve` command module (option parsing, signals, control socket) with a test-double
 * card instead of simulator/card's, for tests that spawn it as a process:
 *   node bin/run-ts.mjs tests/support/serve-fixture.ts serve --card any --vpcd-port N --control PATH
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { createServeCommand } from '../../harness/cli/commands/serve.ts';
import { FixedSelectCard } from './test-cards.ts';

await yargs(hideBin(process.argv))
  .scriptName('myna-hil')
  .command(createServeCommand({ buildCard: () => new FixedSelectCard() }))
  .strict()
  .demandCommand(1)
  .help()
  .parseAsync();
