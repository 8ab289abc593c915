/** The faulty kiosk (./faulty.ts) as a command line over PC/SC; same options as examples/kiosk/cli.ts. */
import { runCli } from '../kiosk/terminal.ts';
import { FAULTS } from './faulty.ts';

process.exitCode = await runCli(process.argv.slice(2), FAULTS);
