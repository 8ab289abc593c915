/**
 * The reference kiosk as a command line over PC/SC:
 *   node bin/run-ts.mjs examples/kiosk/cli.ts --reader 'Virtual PCD 00 00' --key auth --challenge nonce.bin
 * Options and exit codes: ./terminal.ts USAGE and ./kiosk.ts.
 */
import { runCli } from './terminal.ts';

process.exitCode = await runCli(process.argv.slice(2));
