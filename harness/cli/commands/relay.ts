/**
 * `myna-hil relay --reader <regex>`: puts a vpcd reader in front of a physical reader (harness/relay,
 * docs/relay.md) until SIGINT/SIGTERM. Exit codes: 0 stopped with nothing refused, 2 bad input, 3 the
 * environment (no pcscd, no such reader, no card), 4 the guard refused something during the session or
 * a card was not allowed.
 */
import { rmSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../../simulator/errors.ts';
import type { RelayEvent } from '../../relay/relay.ts';
import type { SessionSink } from '../../session/recorder.ts';
import { checkFloor, FLOOR_OPTION, parseSw, REFUSE_SW_OPTION } from '../guard-options.ts';

interface RelayArgs {
  reader: string;
  slot: number;
  'allow-card'?: string[];
  'allow-cards-file'?: string;
  pins?: string;
  floor: number;
  'refuse-sw': string;
  'allow-destructive': boolean;
  record?: string;
  wait: number;
}

/** One log line per relay event; guard events carry redacted commands only, never a PIN value. */
export function describeRelayEvent(e: RelayEvent): string {
  switch (e.type) {
    case 'inserted':
      return `card in (ATR ${e.atr}, auth certificate SHA-256 ${e.authCertSha256}): inserted into the virtual reader`;
    case 'removed':
      return `card out: ${e.reason}; the virtual reader is empty`;
    case 'not-allowed':
      return e.message;
    case 'power':
      return `${e.what} mirrored to the physical card`;
    case 'guard':
      if (e.event.type === 'refused') return `${e.event.message}; answered with the refusal status word`;
      if (e.event.type === 'allowed') return `guard allowed ${e.event.command} (${e.event.key}, ${e.event.triesLeft ?? '?'} tries left: ${e.event.why})`;
      return e.event.message;
    case 'error':
      return `warning: ${e.message}`;
  }
}

const cmd: CommandModule<object, RelayArgs> = {
  command: 'relay',
  describe: 'Put a virtual reader (vpcd) in front of a physical reader: every APDU guarded, optionally recorded',
  builder: (y) =>
    y
      .option('reader', { type: 'string', demandOption: true, describe: 'A regular expression matching exactly one physical reader' })
      .option('slot', { type: 'number', default: 0, describe: "vpcd slot clients use: 0 = 'Virtual PCD 00 00', 1 = 'Virtual PCD 00 01'" })
      .option('allow-card', { type: 'string', array: true, describe: 'SHA-256 (hex) of the auth certificate of a test card the lab allows' })
      .option('allow-cards-file', { type: 'string', describe: 'A file of such hashes, one a line (# comments)' })
      .option('pins', {
        type: 'string',
        describe: "The card's PIN values (JSON or KEY=VALUE lines; else MYNA_HIL_PIN_*), optional: the lab's own value may be sent with 2 tries left",
      })
      .option('floor', FLOOR_OPTION)
      .option('refuse-sw', REFUSE_SW_OPTION)
      .option('allow-destructive', { type: 'boolean', default: false, describe: 'Forward PIN commands below the floor too (a card may lock)' })
      .option('record', { type: 'string', describe: 'Record the session (JSON Lines; PIN data masked) to this file' })
      .option('wait', { type: 'number', default: 10, describe: 'Seconds to wait for the reader list and the first card' })
      .check((a) => {
        checkFloor(a.floor);
        if (!(a.wait > 0)) throw new InputError(`--wait ${a.wait}: give a positive number of seconds`);
        return true;
      })
      .epilog(
        [
          'The card in the physical reader is connected exclusively and its auth certificate',
          'checked against the allow-list before anything is relayed. Every PIN command is',
          "guarded: its key's tries left are read first (the empty VERIFY costs nothing) and",
          'at or below --floor it is not forwarded: the client gets --refuse-sw instead.',
          'Power on/off and reset from pcscd are mirrored to the physical card; a removal of',
          'the physical card removes the virtual one; a card put back is checked again.',
          '',
          'Exit codes: 0 stopped (SIGINT, SIGTERM) with nothing refused; 2 bad input;',
          '3 the environment (no pcscd, the reader regex matches none or several, no card);',
          '4 the guard refused a command during the session, or a card was not allowed.',
          'See docs/relay.md.',
        ].join('\n'),
      )
      .example('$0 relay --reader "SONY" --allow-cards-file lab-cards.txt', "the card in the SONY reader, for clients on 'Virtual PCD 00 00'")
      .example('$0 relay --reader "^Virtual PCD 00 01$" --allow-card 3f…a9 --record s.jsonl', 'relay a served card (slot 1) to slot 0, recorded')
      .example(
        '$0 relay --reader "Gemalto" --slot 1 --pins lab-pins.env --floor 2',
        "clients on 'Virtual PCD 00 01'; the lab's values may pass",
      ) as unknown as Argv<RelayArgs>,
  handler: async (a) => {
    const refuseSw = parseSw(a['refuse-sw']);
    const { startRelay } = await import('../../relay/relay.ts');
    const { FileSink } = await import('../../session/recorder.ts');
    const log = (line: string) => console.error(`relay: ${line}`);
    let sink: SessionSink | undefined;
    if (a.record) {
      try {
        sink = new FileSink(a.record);
      } catch (err) {
        throw new InputError(`--record ${a.record}: cannot write it: ${(err as Error).message} (fix: give a writable path)`);
      }
    }
    const relay = await startRelay({
      reader: a.reader,
      slot: a.slot,
      allowCards: a['allow-card'],
      allowCardsFile: a['allow-cards-file'],
      pinsFile: a.pins,
      floor: a.floor,
      refuseSw,
      allowDestructive: a['allow-destructive'],
      record: sink,
      timeoutMs: a.wait * 1000,
      io: 'sync', // this process only relays: a blocking transmit costs nothing here and saves ~90 µs an APDU

      onEvent: (e) => log(describeRelayEvent(e)),
    }).catch((err: unknown) => {
      sink?.close();
      // nothing was relayed, so nothing was recorded: no empty session file is left for replay to reject
      if (sink && a.record) rmSync(a.record, { force: true });
      const code = (err as { exitCode?: unknown }).exitCode;
      if (err instanceof InputError || (code !== 3 && code !== 4)) throw err;
      console.error(`myna-hil relay: ${(err as Error).message}`);
      process.exitCode = code; // 3 the environment, 4 a card not allowed: nothing was relayed
      return undefined;
    });
    if (!relay) return;
    log(`relaying "${relay.physicalReader}" to "${relay.virtualReader}" (pid ${process.pid}); SIGINT or SIGTERM stops`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await relay.stop();
    const refusals = relay.refusals.length + relay.notAllowed.length;
    if (refusals) {
      const first = relay.refusals[0] ?? relay.notAllowed[0];
      log(`stopped; the guard refused ${refusals} time(s), first: ${first.message}`);
      process.exitCode = 4;
    } else log('stopped; nothing refused');
  },
};

export default cmd;
