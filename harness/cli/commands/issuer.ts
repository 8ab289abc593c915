/**
 * `myna-hil issuer …`: the municipal counter's out-of-band operations: show the counters, reset a
 * counter (unlock), set a new PIN value, and (served cards only) re-initialise the sign password
 * after the auth PIN was verified in the card session. Not APDUs: no client can do this.
 *
 * Two ways to reach the card:
 * - `--card <profile> --state <file>`: a card at rest, through its state file;
 * - `--control <socket>`: a card that `myna-hil serve` is serving (serve rewrites its state file on
 *   every change, so a served card is changed through serve, never behind its back: serve holds the
 *   state file's lock, and `--card/--state` on it is refused naming serve's pid).
 */
import type { Argv, CommandModule } from 'yargs';
import { buildCard, type LoadedCard } from '../../load-card.ts';
import { InputError } from '../../../simulator/errors.ts';
import { pinCounters, type PinCounters, resetCounter, setPin } from '../../../simulator/issuer/issuer.ts';
import { USER_PINS, type UserPinId } from '../../../simulator/pin/pin.ts';
import { sendControl } from '../../serve/control.ts';
import { readSecret, SECRET_EPILOG, secretOptions } from '../secrets.ts';

interface Target {
  card?: string;
  state?: string;
  control?: string;
}

const target = <T>(y: Argv<T>) =>
  y
    .option('card', { type: 'string', describe: 'Card profile (JSON), with --state' })
    .option('state', { type: 'string', describe: 'State file of the card (created when missing)' })
    .option('control', { type: 'string', describe: `${CONTROL_HELP} (instead of --card/--state)` })
    .check((a) => {
      if (a.control && (a.card || a.state)) throw new InputError('give either --control (a served card) or --card with --state (a card at rest), not both');
      if (!a.control && !(a.card && a.state)) throw new InputError('name the card: --card <profile> --state <file>, or --control <socket> of a running serve');
      return true;
    });

/** What --control names; the examples write it as $SOCK. */
const CONTROL_HELP =
  'Control socket of a running `myna-hil serve`: the path it printed at start, by default $XDG_RUNTIME_DIR/myna-hil/serve-slot<N>.sock or /tmp/myna-hil-<uid>/serve-slot<N>.sock ($SOCK in the examples)';

const pinOption = <T>(y: Argv<T>) => y.option('pin', { type: 'string', choices: [...USER_PINS], demandOption: true, describe: 'Which PIN' });

/** Sends an issuer command to a serve; a refusal is exit 2 with serve's reason. */
async function viaControl(socket: string, command: string, body?: unknown): Promise<Record<string, unknown>> {
  const reply = await sendControl(socket, command, body === undefined ? {} : { body });
  if (!reply.ok) throw new InputError(`${command}: ${reply.error}`);
  return reply.status as Record<string, unknown>;
}

function printPins(pins: PinCounters): void {
  for (const id of USER_PINS) {
    const p = pins[id];
    console.log(`${id.padEnd(7)} ${p.remaining}/${p.max} tries left${p.remaining === 0 ? '  LOCKED' : ''}`);
  }
}

/** Runs `op` on a card at rest, then lets go of its state file (its lock), also when `op` fails. */
function atRest<R>(a: Target, op: (card: LoadedCard) => R): R {
  const card = buildCard(a.card!, a.state!);
  try {
    return op(card);
  } finally {
    card.close();
  }
}

const status: CommandModule<object, Target> = {
  command: 'status',
  describe: 'Show the retry counters and lock states of the user PINs (never their values)',
  builder: (y) =>
    target(y)
      .example('$0 issuer status --card card.json --state card.state.json', 'a card at rest')
      .example('$0 issuer status --control "$SOCK"', 'a served card'),
  handler: async (a) => printPins(a.control ? ((await viaControl(a.control, 'status')).pins as PinCounters) : atRest(a, pinCounters)),
};

const reset: CommandModule<object, Target & { pin: string }> = {
  command: 'reset-counter',
  describe: "Reset a PIN's retry counter to its maximum (unlocks it; the value stays)",
  builder: (y) => pinOption(target(y)).example('$0 issuer reset-counter --card card.json --state card.state.json --pin auth', 'unlock the auth PIN'),
  handler: async (a) => {
    const id = a.pin as UserPinId;
    if (a.control) await viaControl(a.control, 'issuer/reset-counter', { pin: id });
    else atRest(a, (card) => resetCounter(card, id));
    console.log(`${id}: counter reset`);
  },
};

const VALUE = 'The new value: 4 digits, or for sign 6-16 of A-Z0-9 with a letter and a digit';

const set: CommandModule<object, Target & { pin: string }> = {
  command: 'set-pin',
  describe: "Set a new PIN value (checked against the PIN's format); the counter goes to its maximum",
  builder: (y) =>
    secretOptions(pinOption(target(y)), 'value', VALUE)
      .example('$0 issuer set-pin --card card.json --state card.state.json --pin sign --value-file new-sign.txt', 'the value from a file')
      .example('printf %s "$NEW_PIN" | $0 issuer set-pin --control "$SOCK" --pin auth --value-file -', 'from standard input, on a served card')
      .example('$0 issuer set-pin --card card.json --state card.state.json --pin auth --value-env NEW_PIN', 'from an environment variable')
      .example('$0 issuer set-pin --card card.json --state card.state.json --pin auth --value 4321', 'on the command line (visible in ps)')
      .epilog(SECRET_EPILOG),
  handler: async (a) => {
    const id = a.pin as UserPinId;
    const value = readSecret(a, 'value', true)!;
    if (a.control) await viaControl(a.control, 'issuer/set-pin', { pin: id, value });
    else atRest(a, (card) => setPin(card, id, value));
    console.log(`${id}: new value set, counter at its maximum`);
  },
};

const reinit: CommandModule<object, { control: string }> = {
  command: 'reinit-sign-password',
  describe: 'Served cards: re-initialise the sign password, allowed only after a client verified the auth PIN in the current card session (the kiosk flow)',
  builder: (y) =>
    secretOptions(
      y.option('control', { type: 'string', demandOption: true, describe: CONTROL_HELP }),
      'value',
      'The new sign password: 6-16 of A-Z0-9 with a letter and a digit',
    )
      .example('$0 issuer reinit-sign-password --control "$SOCK" --value-file -', 'the new password from standard input')
      .example('$0 issuer reinit-sign-password --control "$SOCK" --value-env NEW_SIGN', 'from an environment variable')
      .example('$0 issuer reinit-sign-password --control "$SOCK" --value NEW1PASS', 'on the command line (visible in ps)')
      .epilog(SECRET_EPILOG),
  handler: async (a) => {
    await viaControl(a.control, 'reinit-sign-password', { value: readSecret(a, 'value', true)! });
    console.log('sign password re-initialised');
  },
};

const cmd: CommandModule = {
  command: 'issuer <action>',
  describe: 'Municipal-counter operations on a card (reset a counter, set a PIN) at rest or served',
  builder: (y) =>
    y
      .command(status)
      .command(reset)
      .command(set)
      .command(reinit)
      .demandCommand(1)
      .example('$0 issuer status --card card.json --state card.state.json', 'counters of a card at rest')
      .example('$0 issuer reset-counter --control "$SOCK" --pin auth', 'unlock the auth PIN of a served card'),
  handler: () => {},
};

export default cmd;
