/**
 * The REAL virtual card (simulator/card) through pcscd, for tests/pcsc and tests/opensc: serve it
 * in process through the vpcd transport (the test keeps the card object to read its counters), or run
 * `node bin/myna-hil.mjs serve` as a user does. Exchange helpers over a PC/SC handle.
 *
 * Never log PIN values: {@link redactArgs} hides the value after `--pin`, `--so-pin`, `--new-pin`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fromHex, toHex } from '../../simulator/apdu/codec.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import type { StateStore } from '../../simulator/state/store.ts';
import { VpcdTransport, type BackoffOptions } from '../../simulator/transport/vpcd/transport.ts';
import { AID as AID_BYTES } from '../../harness/flows/card-ref.ts';
import type { FlowResult } from '../../harness/flows/spec-flows.ts';
import { verifyCmd } from './card.ts';
import { BIN } from './cli.ts';
import { waitFor } from './wait.ts';

/** Upper-case hex, no spaces. */
export const hex = (b: Uint8Array): string => toHex(b);

/** The flows' AIDs (harness/flows/card-ref.ts, from the card reference) as hex for hand-built commands. */
export const AID = { jpki: hex(AID_BYTES.jpki), text: hex(AID_BYTES.text), face: hex(AID_BYTES.face) };

/** `00 20 00 80 Lc <value>` (VERIFY with ASCII data). */
export const verifyApdu = (value: string): Uint8Array => fromHex(verifyCmd(value));

/** One line per failed flow with its failed checks, for assertion messages. */
export function describeFailures(results: FlowResult[]): string {
  return results
    .filter((r) => !r.ok)
    .map(
      (r) =>
        `${r.id}: ${r.error ?? ''} ${r.checks
          .filter((c) => !c.ok)
          .map((c) => `${c.what} (${c.detail ?? ''})`)
          .join('; ')}`,
    )
    .join('\n');
}

/** A value of the same format as `pin` that is not `pin` (a wrong PIN to spend a try with). */
export function wrongPin(pin: string): string {
  const w = pin === '0000' ? '9999' : '0000';
  return w.length === pin.length && /^\d+$/.test(pin) ? w : `${pin.slice(0, -1)}${pin.endsWith('0') ? '1' : '0'}`;
}

/** Anything with a PC/SC-like transmit: sends hex (spaces allowed), answers uppercase hex incl. SW. */
export async function txHex(h: { transmit(c: Uint8Array): Promise<Uint8Array> }, cmd: string | Uint8Array): Promise<string> {
  return hex(await h.transmit(typeof cmd === 'string' ? fromHex(cmd) : cmd));
}

export interface ServedCard {
  card: VirtualCard;
  transport: VpcdTransport;
  /** Transport warnings (protocol errors, card faults), for assertions and failure messages. */
  warnings: string[];
  stop(): Promise<void>;
}

/** Serves a card built from `profile` into vpcd slot `slot` in this process. Resolves once started. */
export async function serveRealCard(
  profile: Profile,
  opts: { slot?: number; store?: StateStore; atr?: Uint8Array; backoff?: Partial<BackoffOptions> } = {},
): Promise<ServedCard> {
  const card = cardFromProfile(profile, { store: opts.store, atr: opts.atr });
  const warnings: string[] = [];
  const transport = new VpcdTransport({
    card,
    slot: opts.slot ?? 0,
    backoff: opts.backoff,
    logger: { info: () => {}, warn: (m) => warnings.push(m) },
  });
  await transport.start();
  return { card, transport, warnings, stop: () => transport.stop() };
}

export interface ServeProcess {
  child: ChildProcess;
  /** stdout and stderr lines (serve redacts PIN data itself). */
  out: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then waits for the exit (SIGKILL after the deadline). Resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Runs `node bin/myna-hil.mjs serve <args>` as a user does. */
export function spawnServe(args: string[]): ServeProcess {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  const out: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) s.on('data', (b: Buffer) => out.push(...b.toString('utf8').split('\n').filter(Boolean)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    out,
    exited,
    async stop(timeoutMs = 15_000) {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), timeoutMs); // deadline for the child
      try {
        return (await exited).code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Waits until a spawned serve logs that vpcd polled the card. */
export function waitVisible(p: ServeProcess, timeoutMs = 30_000): Promise<true> {
  return waitFor(
    () => {
      if (p.child.exitCode !== null) throw new Error(`serve exited with ${p.child.exitCode}:\n${p.out.join('\n')}`);
      return p.out.some((l) => /card visible to pcscd/.test(l));
    },
    { timeoutMs, what: 'serve to log "card visible"' },
  ) as Promise<true>;
}

/** Command-line arguments with PIN values replaced, for messages. */
export function redactArgs(args: readonly string[]): string[] {
  return args.map((a, i) => (i > 0 && /^--(so-|new-)?pin$/.test(args[i - 1]) ? '<redacted>' : a.replace(/^(--(?:so-|new-)?pin=).*/, '$1<redacted>')));
}
