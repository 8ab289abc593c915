/**
 * `myna-hil issuer …`: the municipal counter's out-of-band operations on a card's state file:
 * show the counters, reset a counter (unlock), set a new PIN value. Not APDUs: no client can do this.
 * Run it while no `serve` holds the same state file (serve rewrites the file on every change).
 */
import type { Argv, CommandModule } from 'yargs';
import { buildCard } from '../../../simulator/card/load.ts';
import { resetCounter, setPin } from '../../../simulator/issuer/issuer.ts';
import { USER_PINS, type UserPinId } from '../../../simulator/pin/pin.ts';

interface Common {
  card: string;
  state: string;
}

const common = <T>(y: Argv<T>) =>
  y
    .option('card', { type: 'string', demandOption: true, describe: 'Card profile (JSON)' })
    .option('state', { type: 'string', demandOption: true, describe: 'State file of the card (created when missing)' });

const status: CommandModule<object, Common> = {
  command: 'status',
  describe: 'Show the retry counters and lock states of the user PINs (never their values)',
  builder: (y) => common(y).example('$0 issuer status --card card.json --state card.state.json', ''),
  handler: (a) => {
    const card = buildCard(a.card, a.state);
    for (const id of USER_PINS) {
      const p = card.pin(id);
      console.log(`${id.padEnd(7)} ${p.remaining}/${p.rule.maxTries} tries left${p.blocked ? '  LOCKED' : ''}`);
    }
  },
};

const reset: CommandModule<object, Common & { pin: string }> = {
  command: 'reset-counter',
  describe: 'Reset a PIN\'s retry counter to its maximum (unlocks it; the value stays)',
  builder: (y) =>
    common(y)
      .option('pin', { type: 'string', choices: [...USER_PINS], demandOption: true, describe: 'Which PIN' })
      .example('$0 issuer reset-counter --card card.json --state card.state.json --pin auth', 'unlock the auth PIN'),
  handler: (a) => {
    const card = buildCard(a.card, a.state);
    resetCounter(card, a.pin as UserPinId);
    console.log(`${a.pin}: counter reset to ${card.pin(a.pin as UserPinId).remaining}`);
  },
};

const set: CommandModule<object, Common & { pin: string; value: string }> = {
  command: 'set-pin',
  describe: 'Set a new PIN value (checked against the PIN\'s format); the counter goes to its maximum',
  builder: (y) =>
    common(y)
      .option('pin', { type: 'string', choices: [...USER_PINS], demandOption: true, describe: 'Which PIN' })
      .option('value', { type: 'string', demandOption: true, describe: 'The new value: 4 digits, or for sign 6-16 of A-Z0-9 with a letter and a digit' })
      .example('$0 issuer set-pin --card card.json --state card.state.json --pin sign --value NEWPASS1', ''),
  handler: (a) => {
    const card = buildCard(a.card, a.state);
    setPin(card, a.pin as UserPinId, a.value);
    console.log(`${a.pin}: new value set, ${card.pin(a.pin as UserPinId).remaining} tries`);
  },
};

const cmd: CommandModule = {
  command: 'issuer <action>',
  describe: 'Municipal-counter operations on a card\'s state file (reset a counter, set a PIN)',
  builder: (y) => y.command(status).command(reset).command(set).demandCommand(1),
  handler: () => {},
};

export default cmd;
