/**
 * `npm run bench`: every benchmark of the project, printed as a markdown table with targets.
 * `npm run bench -- --only in-process` runs one group.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import os from 'node:os';
import { benchInProcess } from './in-process.ts';
import { benchPcsc } from './pcsc.ts';
import { benchRelay } from './relay.ts';
import { benchScenario } from './scenario.ts';
import { benchStartup } from './startup.ts';
import { formatResults, type Row } from './table.ts';

const GROUPS: Record<string, (log: (s: string) => void) => Promise<Row[]>> = {
  'in-process': benchInProcess,
  pcsc: benchPcsc,
  relay: benchRelay,
  scenario: benchScenario,
  startup: benchStartup,
};

const args = await yargs(hideBin(process.argv))
  .scriptName('npm run bench --')
  .option('only', { type: 'string', choices: Object.keys(GROUPS), describe: 'Run one group only' })
  .example('npm run bench', 'all groups')
  .example('npm run bench -- --only in-process', 'the in-process card only')
  .strict()
  .help()
  .parseAsync();

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
const rows: Row[] = [];
for (const [name, fn] of Object.entries(GROUPS)) {
  if (args.only && args.only !== name) continue;
  log(`== ${name}`);
  rows.push(...(await fn(log)));
}
console.log(`\nMeasured ${new Date().toISOString()} on ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`);
const { lines, failed } = formatResults(rows);
console.log(lines.join('\n'));
if (failed) process.exitCode = 1;
