/**
 * `myna-hil replay <session.jsonl> --card <profile>`: replays a recorded session on the simulator built
 * from the profile and reports where the answers differ (harness/session/replay.ts, docs/sessions.md).
 * Exit codes: 0 no divergence, 1 divergences, 2 bad input (a malformed session file, a profile).
 */
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../../simulator/errors.ts';
import { loadProfile } from '../../../simulator/profile/io.ts';
import { readSession } from '../../session/read.ts';
import { replaySession } from '../../session/replay.ts';
import { REPLAY_REPORTERS, writeReplayReports } from '../../session/replay-report.ts';

interface ReplayArgs {
  session: string;
  card: string;
  reporter: string[];
  out: string;
}

const cmd: CommandModule<object, ReplayArgs> = {
  command: 'replay <session>',
  describe: 'Replay a recorded session on the simulator and show where its answers differ from the recorded ones',
  builder: (y: Argv) =>
    y
      .positional('session', { type: 'string', demandOption: true, describe: 'Session file (JSON Lines) from run --record, serve --record or the relay' })
      .option('card', { type: 'string', demandOption: true, describe: 'Card profile to build the simulator from (read only; nothing is written to it)' })
      .option('reporter', {
        type: 'string',
        array: true,
        default: ['console'],
        describe: `Reports: ${REPLAY_REPORTERS.join(', ')} (comma-separated or repeated)`,
      })
      .option('out', { type: 'string', default: 'reports', describe: 'Directory for replay.json and replay.html' })
      .epilog(
        [
          'Status words must match exactly; data too, except signatures (verified with the',
          'certificates instead), GET CHALLENGE (length), and, for a session of another card than the',
          "profile's, EF data (length) and certificates (structure). Masked PIN data is put back from",
          'the profile. The report names the first divergence, both answers (length and status word),',
          'the command and the docs/card.md section for it, then the count of the rest.',
        ].join('\n'),
      )
      .example('$0 replay reports/sessions/kiosk--client-001.jsonl --card card.json', 'console report')
      .example(
        '$0 replay lab.jsonl --card lab-card.json --reporter console,json,html --out reports',
        'also replay.json and replay.html',
      ) as unknown as Argv<ReplayArgs>,
  handler: (a) => {
    const reporters = a.reporter.flatMap((r) => r.split(',')).filter(Boolean);
    const unknown = reporters.filter((r) => !(REPLAY_REPORTERS as readonly string[]).includes(r));
    if (unknown.length) throw new InputError(`--reporter ${unknown.join(',')}: unknown; give ${REPLAY_REPORTERS.join(', ')}`);
    const session = readSession(a.session);
    const profile = loadProfile(a.card);
    const result = replaySession(session, { profile, profileName: a.card });
    const written = writeReplayReports(result, reporters, resolve(a.out));
    if (written.console) process.stdout.write(written.console);
    if (written.files.length) console.log(`reports: ${written.files.join(', ')}`);
    process.exitCode = result.divergences.length ? 1 : 0;
  },
};

export default cmd;
