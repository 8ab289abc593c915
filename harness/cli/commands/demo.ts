/**
 * `myna-hil demo`: the main job on the embedded simulator. Makes a fresh test card (or loads one),
 * runs the example client flows of the spec against it in process, and prints every exchange (PIN
 * data redacted) and every check. Exit 0 when every check passed, 1 otherwise.
 */
import type { CommandModule } from 'yargs';
import { cardFromProfile } from '../../../simulator/card/build.ts';
import { loadProfile, saveProfile } from '../../../simulator/profile/io.ts';
import { generateProfile } from '../../../simulator/profile/generate.ts';
import type { Profile } from '../../../simulator/profile/schema.ts';
import { FileStore, MemoryStore } from '../../../simulator/state/store.ts';
import { inProcessChannel } from '../../../simulator/card/channel.ts';
import { authenticityFlow } from '../../flows/authenticity.ts';
import { runFlows, SPEC_FLOWS } from '../../flows/spec-flows.ts';

interface Args {
  card?: string;
  state?: string;
  save?: string;
  quiet: boolean;
  flow?: string[];
}

const cmd: CommandModule<object, Args> = {
  command: 'demo',
  describe: "Make a test card and run the spec's example client flows against it in process",
  builder: (y) =>
    y
      .option('card', { type: 'string', describe: 'Use this card profile instead of generating a fresh one' })
      .option('state', { type: 'string', describe: 'State file for counters and PIN values (default: memory only)' })
      .option('save', { type: 'string', describe: 'Save the generated profile to this file' })
      .option('flow', { type: 'string', array: true, describe: 'Run only these flows (ids, e.g. 11.1 11.3)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the checks, not each exchange' })
      .example('$0 demo', 'fresh card, all flows, every exchange printed')
      .example('$0 demo --card card.json --flow 11.1 --quiet', 'one flow on a saved card, checks only')
      .example('$0 demo --flow auth-check', 'the authenticity check of the 券面 APs (CVC, integrity record, card-face signature)')
      .example('$0 demo --save reports/demo-card.json', 'keep the generated card for later runs'),
  handler: async (args) => {
    let profile: Profile;
    if (args.card) {
      profile = loadProfile(args.card);
      console.error(`card: ${args.card} (${profile.variant})`);
    } else {
      console.error('making a test card: 9 RSA-2048 keys, a test CA, certificates …');
      const t0 = performance.now();
      profile = await generateProfile({});
      console.error(
        `made in ${((performance.now() - t0) / 1000).toFixed(2)} s: ${profile.holder.name}, My Number ${profile.holder.myNumber}, variant ${profile.variant}`,
      );
      if (args.save) {
        saveProfile(args.save, profile);
        console.error(`saved to ${args.save}`);
      }
    }
    const card = cardFromProfile(profile, { store: args.state ? new FileStore(args.state) : new MemoryStore() });
    card.powerUp();
    // the destructive error-trace flow last, so that the others see a card with full counters
    const all = [...SPEC_FLOWS.filter((f) => !f.destructive), authenticityFlow(profile.issuer.rootPublicKey), ...SPEC_FLOWS.filter((f) => f.destructive)];
    const flows = args.flow?.length ? all.filter((f) => args.flow!.includes(f.id)) : all;
    if (!flows.length) {
      console.error(`no flow matches ${args.flow?.join(', ')}; the flows are ${all.map((f) => f.id).join(', ')}`);
      process.exit(2);
    }
    const results = await runFlows(
      inProcessChannel(card),
      flows,
      { authPin: profile.pins.auth.value, signPin: profile.pins.sign.value, kenmenPin: profile.pins.kenmen.value },
      {
        onFlowStart: (f) => console.log(`\n== ${f.id} ${f.title}`),
        onExchange: args.quiet ? undefined : (e) => console.log(`  > ${e.command}  (${e.name})\n  < ${e.response}`),
        onFlowEnd: (r) => {
          for (const c of r.checks) console.log(`  ${c.ok ? '✓' : '✗'} ${c.what}${c.detail ? `: ${c.detail}` : ''}`);
          if (r.error) console.log(`  ✗ stopped: ${r.error}`);
        },
      },
    );
    const failed = results.filter((r) => !r.ok);
    const apdus = results.reduce((n, r) => n + r.exchanges.length, 0);
    console.log(`\n${results.length - failed.length} passed, ${failed.length} failed (${apdus} APDUs)`);
    if (failed.length) process.exitCode = 1;
  },
};

export default cmd;
