/**
 * The exec driver against small fixture programs (tests/clients/fixtures): prompts answered under a
 * pseudo-terminal only after they appear, a client that never prompts killed with its whole process
 * group, a missing command, PIN leaks, pipes mode and the fallback when node-pty cannot load.
 */
import { describe, expect, it } from 'vitest';
import { runExec } from '../../harness/clients/exec.ts';
import { groupMembers, isAlive } from '../../harness/clients/process-group.ts';
import { runClient } from '../../harness/clients/index.ts';
import { InputError } from '../../simulator/errors.ts';
import { waitFor } from '../support/wait.ts';
import { exec, input, PINS } from './input.ts';

const grandchildOf = (stdout: string): number => Number(/grandchild=(\d+)/.exec(stdout)?.[1]);

describe('exec under a pseudo-terminal', () => {
  it('answers a PIN prompt read with the echo off from /dev/tty, only after the prompt appeared', async () => {
    const lines: string[] = [];
    const r = await runClient(
      input(exec('./read-pin.sh', { env: { EXPECT_PIN: '{pins.auth}' } }), {
        answers: [{ prompt: 'PIN: ', reply: PINS.auth }],
        onLine: (stream, line) => lines.push(`${stream}:${line}`),
      }),
    );
    expect(r.startError).toBeUndefined();
    // exit 0: the client read exactly the PIN of {pins.auth} (through the env template); 4 characters.
    expect(r.exit).toBe(0);
    expect(r.stdout).toBe('starting\nPIN: \nearly=no got-4\n');
    expect(r.stderr).toBe('');
    expect(r.unansweredPrompts).toEqual([]);
    expect(r.timedOut).toBe(false);
    // Typed ahead, the PIN would have been waiting before the prompt and echoed (echo on) into the transcript.
    expect(r.leakedPin).toBe(false);
    expect(lines).toEqual(['pty:starting', 'pty:PIN: ', 'pty:early=no got-4']);
  });

  it('answers prompts in order, each once: a prompt shown again gets no second reply', async () => {
    const r = await runExec(
      input(exec('./two-prompts.sh'), {
        answers: [
          { prompt: 'PIN: ', reply: PINS.auth },
          { prompt: 'last try, go on? ', reply: 'y' },
        ],
      }),
      exec('./two-prompts.sh'),
    );
    expect(r.exit).toBe(3);
    // The confirmation is read with the echo on: its reply shows right after its own prompt.
    expect(r.stdout).toBe('PIN: \nlast try, go on? y\npin-length=4 confirm=y\nPIN: second=none\n');
    expect(r.unansweredPrompts).toEqual([]);
    expect(r.leakedPin).toBe(false);
  });

  it('a client that reads the PIN with the echo on leaks it: the terminal shows it (CLIENT-005)', async () => {
    const r = await runExec(input(exec('./echo-on-pin.sh'), { answers: [{ prompt: 'PIN: ', reply: PINS.auth }] }), exec('./echo-on-pin.sh'));
    expect(r.exit).toBe(0);
    expect(r.leakedPin).toBe(true);
    expect(r.stdout).toBe('PIN: <pin:auth>\ngot-4\n');
  });

  it('a client that never prompts times out: unanswered prompt, and its whole process group is gone', async () => {
    const binding = exec('./never-prompts.sh');
    const r = await runExec(input(binding, { timeoutMs: 300, answers: [{ prompt: 'PIN: ', reply: PINS.auth }] }), binding);
    expect(r.timedOut).toBe(true);
    expect(r.exit).toBeNull();
    expect(r.unansweredPrompts).toEqual(['PIN: ']);
    const grandchild = grandchildOf(r.stdout);
    expect(grandchild).toBeGreaterThan(0);
    expect(isAlive(grandchild)).toBe(false);
  });

  it('a grandchild that ignores SIGTERM gets SIGKILL after the grace period', async () => {
    const binding = exec('./never-prompts.sh', { env: { STUBBORN: '1' } });
    const r = await runExec(input(binding, { timeoutMs: 300, answers: [{ prompt: 'PIN: ', reply: 'x' }] }), binding, { killGraceMs: 200 });
    expect(r.timedOut).toBe(true);
    // It outlived SIGTERM: the driver waited the grace period, then killed it.
    expect(r.durationMs).toBeGreaterThanOrEqual(300 + 200);
    const grandchild = grandchildOf(r.stdout);
    expect(grandchild).toBeGreaterThan(0);
    expect(isAlive(grandchild)).toBe(false);
  });

  it('matches prompts on the normalised transcript (ANSI stripped, CRLF to LF)', async () => {
    // read-pin.sh prints its prompt in bold: "\e[1mPIN:\e[0m ".
    const r = await runExec(
      input(exec('./read-pin.sh'), { answers: [{ prompt: 'PIN: ', reply: 'abc' }] }),
      exec('./read-pin.sh', { env: { EXPECT_PIN: 'abc' } }),
    );
    expect(r.exit).toBe(0);
    expect(r.stdout).not.toContain('\x1b');
    expect(r.stdout).not.toContain('\r');
  });
});

describe('exec: start errors, leaks, pipes', () => {
  it('a command that does not exist is a startError naming it, not a crash', async () => {
    for (const command of ['myna-hil-no-such-client', './no-such-client.sh']) {
      const r = await runClient(input(exec(command), { answers: [{ prompt: 'PIN: ', reply: PINS.auth }] }));
      expect(r.startError).toBe(`clients.yaml:3:5 test-client: command not found: ${command} (not an executable file, nor on PATH)`);
      expect(r.exit).toBeNull();
      expect(r.unansweredPrompts).toEqual(['PIN: ']);
    }
  });

  it('a working directory that does not exist is a startError', async () => {
    const r = await runClient(input(exec('bash', { cwd: 'no-such-dir' })));
    expect(r.startError).toMatch(/^clients\.yaml:3:5 test-client: working directory .*\/no-such-dir does not exist$/);
  });

  it('an unknown template variable is an input error naming the field, without any value', async () => {
    const err = await runClient(input(exec('./print-pin.sh', { args: ['{pins.auht}'] }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^clients\.yaml:3:5 test-client args\[0\]: unknown template variable \{pins\.auht\}; the run defines: pins\.auth, /);
    for (const pin of Object.values(PINS)) expect((err as Error).message).not.toContain(pin);
  });

  it('a client that prints the PIN sets leakedPin, and the output it returns is masked', async () => {
    const lines: string[] = [];
    const binding = exec('./print-pin.sh', { args: ['{pins.auth}'] });
    const r = await runExec(input(binding, { onLine: (s, l) => lines.push(`${s}:${l}`) }), binding);
    expect(r.exit).toBe(0);
    expect(r.leakedPin).toBe(true);
    expect(r.stdout).toBe('debug: pin=<pin:auth>\n');
    expect(r.stderr).toBe('done\n');
    expect(lines).toEqual(['stdout:debug: pin=<pin:auth>', 'stderr:done']);
  });

  it('a PIN printed as the hex of an unmasked VERIFY is a leak too', async () => {
    const binding = exec('./print-pin.sh', { args: ['{pins.auth}', 'hex'] });
    const r = await runExec(input(binding), binding);
    expect(r.stdout).toBe('apdu> 00 20 00 80 04 34 37 31 39\n');
    expect(r.leakedPin).toBe(true);
  });

  it('a client that prints no PIN does not leak', async () => {
    const binding = exec('./print-pin.sh', { args: ['not-a-pin'] });
    const r = await runExec(input(binding), binding);
    expect(r.leakedPin).toBe(false);
  });

  it('pipes (tty: false): the reply goes to stdin after the prompt appeared on stderr, then stdin ends', async () => {
    const binding = exec('./stdin-pin.sh', { tty: false });
    const r = await runExec(input(binding, { answers: [{ prompt: 'PIN: ', reply: PINS.sign }] }), binding);
    expect(r.exit).toBe(5);
    expect(r.stdout).toBe('got-6\neof\n');
    expect(r.stderr).toBe('PIN: ');
    expect(r.unansweredPrompts).toEqual([]);
    expect(r.leakedPin).toBe(false);
  });

  it('pipes: a client that never prompts times out and its process group is gone', async () => {
    const binding = exec('./never-prompts.sh', { tty: false });
    const r = await runExec(input(binding, { timeoutMs: 300 }), binding);
    expect(r.timedOut).toBe(true);
    expect(r.exit).toBeNull();
    const grandchild = grandchildOf(r.stdout);
    expect(isAlive(grandchild)).toBe(false);
  });

  it('processes left running after the client exits are ended, with a note', async () => {
    const binding = exec('bash', { args: ['-c', 'sleep 300 & echo "grandchild=$!"'], tty: false });
    const r = await runExec(input(binding), binding);
    expect(r.exit).toBe(0);
    expect(r.timedOut).toBe(false);
    expect(r.notes).toEqual(['processes the client started were still running after it exited; they were ended']);
    const grandchild = grandchildOf(r.stdout);
    await waitFor(() => !isAlive(grandchild), { what: 'the leftover sleep to be gone' });
    expect(groupMembers(grandchild)).toEqual([]);
  });

  it('without node-pty it falls back to pipes with a note, and a client that needs a TTY fails visibly', async () => {
    const binding = exec('./read-pin.sh');
    const r = await runExec(input(binding, { answers: [{ prompt: 'PIN: ', reply: PINS.auth }] }), binding, {
      loadPty: () => Promise.reject(new Error("Cannot find package '@lydell/node-pty'")),
    });
    expect(r.notes).toEqual([
      "no pseudo-terminal (@lydell/node-pty could not load: Cannot find package '@lydell/node-pty'); ran with pipes, so a client that reads /dev/tty fails",
    ]);
    expect(r.exit).not.toBe(0);
    expect(r.stderr).toMatch(/\/dev\/tty/);
    expect(r.unansweredPrompts).toEqual(['PIN: ']);
  });
});
