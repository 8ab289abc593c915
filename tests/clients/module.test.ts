/**
 * The module driver: a kiosk module gets the card channel, its prompts answered in order, its log as
 * stdout, and an AbortSignal on timeout; its returned number is the exit code.
 */
import { describe, expect, it } from 'vitest';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { inProcessChannel } from '../../simulator/card/channel.ts';
import { runModule } from '../../harness/clients/module.ts';
import { runClient } from '../../harness/clients/index.ts';
import { newCard } from '../support/card.ts';
import { input, moduleBinding, PINS } from './input.ts';

const KIOSK_ANSWERS = [
  { prompt: '暗証番号', reply: PINS.auth },
  { prompt: 'last try', reply: 'y' },
];

/** A channel that records the commands it carries, in hex. */
function recording(channel: ApduChannel, log: string[]): ApduChannel {
  return {
    transmit: async (c) => {
      log.push(Buffer.from(c).toString('hex').toUpperCase());
      return channel.transmit(c);
    },
  };
}

describe('module clients', () => {
  it('a TypeScript module gets the channel, its prompts answered in order, its log as stdout, its return as exit', async () => {
    const card = await newCard();
    const sent: string[] = [];
    const lines: string[] = [];
    const r = await runClient(
      input(moduleBinding('kiosk-module.ts'), {
        channel: recording(inProcessChannel(card), sent),
        reader: 'Virtual PCD 00 00',
        answers: KIOSK_ANSWERS,
        onLine: (s, l) => lines.push(`${s}:${l}`),
      }),
    );
    expect(r.startError).toBeUndefined();
    expect(sent).toEqual(['00A4040C0AD392F000260100000001', '00A4020C020018', '00200080']);
    expect(r.exit).toBe(3); // a fresh card: 63 C3, three auth tries left
    expect(r.stdout).toBe('reader: Virtual PCD 00 00\nquery: 63C3\n利用者証明用電子証明書の暗証番号: \nlast try, go on? \npin-length=4 confirm=y\n');
    expect(r.stderr).toBe('');
    expect(lines).toEqual(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => `stdout:${l}`),
    );
    expect(r.unansweredPrompts).toEqual([]);
    expect(r.leakedPin).toBe(false);
    expect(r.timedOut).toBe(false);
  });

  it('an unexpected prompt rejects naming it and the answer waiting; the run exits 1 with it on stderr', async () => {
    const card = await newCard();
    const r = await runModule(
      input(moduleBinding('kiosk-module.ts'), { channel: inProcessChannel(card), answers: [{ prompt: 'パスワード', reply: PINS.sign }] }),
      moduleBinding('kiosk-module.ts'),
    );
    expect(r.exit).toBe(1);
    expect(r.stderr).toBe('run() threw: unexpected prompt "利用者証明用電子証明書の暗証番号: ": the next answer is for a prompt containing "パスワード"\n');
    expect(r.unansweredPrompts).toEqual(['パスワード']);
  });

  it('a prompt after the answers ran out rejects too', async () => {
    const card = await newCard();
    const r = await runModule(
      input(moduleBinding('kiosk-module.ts'), { channel: inProcessChannel(card), answers: [KIOSK_ANSWERS[0]!] }),
      moduleBinding('kiosk-module.ts'),
    );
    expect(r.exit).toBe(1);
    expect(r.stderr).toBe('run() threw: unexpected prompt "last try, go on? ": every answer was used\n');
  });

  it('a module that logs the PIN leaks it; the output it returns is masked', async () => {
    const binding = moduleBinding('kiosk-module.ts', 'leaky');
    const r = await runModule(input(binding, { channel: inProcessChannel(await newCard()), answers: [{ prompt: 'PIN: ', reply: PINS.auth }] }), binding);
    expect(r.exit).toBe(0);
    expect(r.leakedPin).toBe(true);
    expect(r.stdout).toBe('PIN: \ndebug: pin=<pin:auth>\n');
  });

  it('on timeout the AbortSignal fires: timedOut, no exit code, the prompt never asked is unanswered', async () => {
    const binding = moduleBinding('kiosk-module.ts', 'abortable');
    const r = await runModule(
      input(binding, { channel: inProcessChannel(await newCard()), timeoutMs: 100, answers: [{ prompt: 'PIN: ', reply: 'x' }] }),
      binding,
    );
    expect(r.timedOut).toBe(true);
    expect(r.exit).toBeNull();
    expect(r.stdout).toBe('waiting for the card\n');
    expect(r.stderr).toBe('run() threw: timed out after 100 ms\n');
    expect(r.unansweredPrompts).toEqual(['PIN: ']);
    expect(r.notes).toBeUndefined();
  });

  it('a module that ignores the signal is given up on after the grace period, with a note', async () => {
    const binding = moduleBinding('kiosk-module.ts', 'stubborn');
    const r = await runModule(input(binding, { channel: inProcessChannel(await newCard()), timeoutMs: 100 }), binding, { graceMs: 100 });
    expect(r.timedOut).toBe(true);
    expect(r.exit).toBeNull();
    expect(r.notes).toEqual(['run() did not return within 100 ms of the abort signal; it was left running']);
  });

  it('a JavaScript module loads without a loader and sees the run values', async () => {
    const binding = moduleBinding('plain-module.mjs');
    const r = await runModule(input(binding, { channel: inProcessChannel(await newCard()), vars: { 'args.greeting': 'hello' } }), binding);
    expect(r.exit).toBe(7);
    expect(r.stdout).toBe('one\ntwo hello\n');
  });

  it('a module that resolves with no exit code exits 1, saying so', async () => {
    const binding = moduleBinding('kiosk-module.ts', 'noExitCode');
    const r = await runModule(input(binding, { channel: inProcessChannel(await newCard()) }), binding);
    expect(r.exit).toBe(1);
    expect(r.stderr).toBe('run() resolved with "ok", not an exit code (an integer)\n');
  });

  it('start errors: a missing module, an export that is not a function, no channel', async () => {
    const channel = inProcessChannel(await newCard());
    const missing = await runModule(input(moduleBinding('nope.ts'), { channel }), moduleBinding('nope.ts'));
    expect(missing.startError).toMatch(/^clients\.yaml:9:5 test-module: module .*\/tests\/clients\/fixtures\/nope\.ts does not exist$/);
    expect(missing.exit).toBeNull();
    const notFn = await runModule(input(moduleBinding('kiosk-module.ts', 'notAFunction'), { channel }), moduleBinding('kiosk-module.ts', 'notAFunction'));
    expect(notFn.startError).toMatch(
      /kiosk-module\.ts has no function export "notAFunction" \(it exports: .*notAFunction.*\); export one, or name it in the manifest's "export"$/,
    );
    const noChannel = await runModule(input(moduleBinding('plain-module.mjs')), moduleBinding('plain-module.mjs'));
    expect(noChannel.startError).toBe('clients.yaml:9:5 test-module: this target gives module clients no card channel');
  });
});
