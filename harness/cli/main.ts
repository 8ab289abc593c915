/**
 * The `myna-hil` command line. One yargs command module per file in ./commands; register new ones in
 * the COMMANDS list below. Every command has --help with examples.
 *
 * Exit codes: 0 success, 1 a check failed, 2 bad input (a malformed profile, state file, option).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { CommandModule } from 'yargs';
import { UserError } from './errors.ts';

/** A command module of any argument types (each module types its own; here they are only registered). */
// biome-ignore lint/suspicious/noExplicitAny: yargs' CommandModule is invariant in its argument types
type AnyCommand = CommandModule<any, any>;

/** Command modules by name, loaded on demand: a command loads only its own code and packages. */
const COMMANDS: Record<string, () => Promise<{ default: AnyCommand }>> = {
  card: () => import('./commands/card.ts'),
  demo: () => import('./commands/demo.ts'),
  issuer: () => import('./commands/issuer.ts'),
  replay: () => import('./commands/replay.ts'),
  relay: () => import('./commands/relay.ts'),
  run: () => import('./commands/run.ts'),
  serve: () => import('./commands/serve.ts'),
  session: () => import('./commands/session.ts'),
};

/** The module(s) to load: the named command's only, or all of them for help and mistakes. */
function commandsFor(argv: string[]): Array<() => Promise<{ default: AnyCommand }>> {
  const first = argv.find((a) => !a.startsWith('-'));
  return first && first in COMMANDS ? [COMMANDS[first]] : Object.values(COMMANDS);
}

async function main(): Promise<void> {
  const modules = await Promise.all(commandsFor(hideBin(process.argv)).map(async (load) => (await load()).default));
  let cli = yargs(hideBin(process.argv))
    .scriptName('myna-hil')
    .usage('$0 <command> [options]\n\nVirtual My Number Card (マイナンバーカード) simulator and test harness.')
    .strict()
    .demandCommand(1, 'Name a command; see the list above.')
    .example('$0 demo', "make a test card and run the spec's client flows against it in process")
    .example('$0 card new --out card.json', 'make a card profile (holder, PINs, keys, certificates)')
    .example('$0 serve --card card.json --state card.state.json', 'put the card in the PC/SC reader "Virtual PCD 00 00"')
    .example('$0 issuer status --card card.json --state card.state.json', 'retry counters and locks')
    .example('$0 relay --reader "SONY" --allow-cards-file lab-cards.txt', 'a physical card for any PC/SC client, guarded, on "Virtual PCD 00 00"')
    .epilog('Each command has --help with its options and examples.')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      console.error(`myna-hil: ${msg}\nRun with --help for usage and examples.`);
      process.exit(2);
    });
  for (const m of modules) cli = cli.command(m);
  await cli.parseAsync();
}

main().catch((err: unknown) => {
  if (err instanceof UserError) {
    console.error(`myna-hil: ${err.message}`);
    process.exit(err.exitCode);
  }
  console.error(err);
  process.exit(1);
});
