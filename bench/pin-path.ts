/**
 * The PIN path of the in-process card: VERIFY that spends a try (wrong and right PIN) with the memory
 * and the file state store, CHANGE REFERENCE DATA, and a whole client auth flow. Unlike the VERIFY
 * query (a 2-byte answer that changes nothing), each of these saves the card's state: counters survive
 * power cycles (docs/card.md §4.2), so the simulator saves the counter before the comparison, and
 * again when a right PIN resets it.
 *
 * Every response's status word is checked, so a change in the card's answers stops the benchmark
 * instead of timing something else. Only public APIs: cardFromProfile with CardOptions.store and
 * VirtualCard.transmit.
 */
import { createHash, createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommand, fromHex } from '../simulator/apdu/codec.ts';
import { redactCommand } from '../simulator/apdu/trace.ts';
import { AID } from '../simulator/applets/index.ts';
import { cardFromProfile } from '../simulator/card/build.ts';
import type { VirtualCard } from '../simulator/card/card.ts';
import { SHA256_DIGESTINFO_PREFIX } from '../simulator/card/crypto.ts';
import type { Profile } from '../simulator/profile/schema.ts';
import { FileStore, MemoryStore } from '../simulator/state/store.ts';
import { describeNs, fmt, interleaved, lapSample, median, type Step } from './stats.ts';
import type { Row } from './table.ts';

export interface PinPathOptions {
  /** Minimum length of one timing sample. */
  minMs: number;
  /** Samples per row (the median is reported, with min and max). */
  samples: number;
}

const CMD = 'npm run bench -- --only in-process';

// Targets, near what was measured (bench/RESULTS.md), so that a real regression misses them.
const MEM_VERIFY_WRONG_US = 25;
const MEM_VERIFY_RIGHT_US = 45;
const MEM_CHANGE_US = 25;
/** Memory-store VERIFY / CHANGE per save against a bare MemoryStore.save of the same document. */
const MEM_VS_SAVE = 1.5;
/** File-store VERIFY per save against the bare atomic write of the same bytes. */
const FILE_VS_BARE = 1.5;
const FLOW_MS = 1.5;
/** The auth flow against one bare RSA-2048 signature, interleaved. */
const FLOW_VS_SIGN = 1.3;
const SELECT_JPKI = encodeCommand({ cla: 0, ins: 0xa4, p1: 0x04, p2: 0x0c, data: AID.jpki });
const SELECT_AUTH_CERT = fromHex('00A4020C02000A');
const SELECT_AUTH_PIN = fromHex('00A4020C020018');
const SELECT_AUTH_KEY = fromHex('00A4020C020017');

const sw = (r: Uint8Array) => (r[r.length - 2] << 8) | r[r.length - 1];
const swHex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

/**
 * Sends a command and requires status word `want`; the benchmark stops on anything else. The message
 * shows the command redacted (a VERIFY's or CHANGE's data is a PIN value).
 */
export function expectSw(card: Pick<VirtualCard, 'transmit'>, cmd: Uint8Array, want: number, what: string): Uint8Array {
  const r = card.transmit(cmd);
  if (sw(r) !== want) throw new Error(`bench: ${what} (${redactCommand(cmd)}) answered ${swHex(sw(r))}, expected ${swHex(want)}`);
  return r;
}

const verifyCmd = (pin: string) => encodeCommand({ cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: Buffer.from(pin, 'latin1') });
const changeCmd = (pin: string) => encodeCommand({ cla: 0, ins: 0x24, p1: 1, p2: 0x80, data: Buffer.from(pin, 'latin1') });

/** A 4-digit auth PIN other than `pin` (for wrong VERIFYs and for CHANGE). */
const otherPin = (pin: string) => (pin === '1111' ? '2222' : '1111');

/** The JPKI AP with the auth PIN EF selected; returns the auth PIN's maximum tries (from the query). */
function selectAuthPin(card: VirtualCard): number {
  card.powerUp();
  expectSw(card, SELECT_JPKI, 0x9000, 'SELECT JPKI AP');
  expectSw(card, SELECT_AUTH_PIN, 0x9000, 'SELECT EF 0018');
  const q = sw(card.transmit(fromHex('00200080')));
  if (q >> 4 !== 0x63c || (q & 0xf) === 0) throw new Error(`bench: the auth PIN must have tries left, the query answered ${swHex(q)}`);
  return q & 0xf;
}

/**
 * Wrong then right VERIFY on the auth PIN, in turn, each timed on its own. The wrong one answers
 * 63 C(max-1) and saves once (counter max → max-1); the right one saves twice (max-1 → max-2 before
 * the comparison, then back to max), so the counter never locks.
 */
function verifySteps(card: VirtualCard, pin: string, max: number): Step[] {
  const wrong = verifyCmd(otherPin(pin));
  const right = verifyCmd(pin);
  const wrongSw = 0x63c0 | (max - 1);
  return [
    { label: 'wrong', run: () => expectSw(card, wrong, wrongSw, 'wrong VERIFY') },
    { label: 'right', run: () => expectSw(card, right, 0x9000, 'right VERIFY') },
  ];
}

/** The file operations of the state file store (simulator/fs/atomic.ts), written out by hand. */
function bareAtomicWrite(dir: string, path: string, bytes: Uint8Array): Uint8Array {
  const tmp = join(dir, '.bare.tmp');
  const fd = openSync(tmp, 'w', 0o600);
  writeSync(fd, bytes);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
  const dfd = openSync(dir, 'r');
  fsyncSync(dfd);
  closeSync(dfd);
  return bytes;
}

/** A row of per-call times: median, min and max of the samples, and what they are compared with. */
const timedRow =
  (minMs: number) =>
  (what: string, ns: number[], target: string, pass: boolean, note?: string): Row => ({
    what,
    value: describeNs(ns, minMs) + (note ? `; ${note}` : ''),
    target,
    pass,
    command: CMD,
  });

/** The PIN-path rows: VERIFY (memory and file store), CHANGE REFERENCE DATA, the auth flow. */
export function benchPinPath(profile: Profile, log: (s: string) => void, opts: PinPathOptions): Row[] {
  log(`VERIFY wrong / right, memory store (${opts.samples} samples of ≥ ${opts.minMs} ms) …`);
  const rows = verifyMemoryRows(profile, opts);
  log('VERIFY + CHANGE REFERENCE DATA, memory store …');
  rows.push(...changeRows(profile, opts));
  log(`VERIFY wrong / right, file store in ${tmpdir()}, call by call with a bare atomic write and a bare fsync …`);
  rows.push(...verifyFileStoreRows(profile, opts));
  log('auth flow: SELECT AP, read the certificate, VERIFY, sign …');
  rows.push(...authFlowRows(profile, opts));
  return rows;
}

/**
 * The floor of a memory-store save: MemoryStore.save of the card's own state document, into a store of
 * its own, as a step of the same loop (so load from other processes falls on both alike).
 */
function bareSaveStep(cardStore: MemoryStore): Step {
  const doc = cardStore.load()!;
  const bare = new MemoryStore();
  const done = Uint8Array.of(0);
  return {
    label: 'save',
    run: () => {
      bare.save(doc);
      return done;
    },
  };
}

/** Median time against `saves` bare saves of the same run. */
const perSave = (ns: number[], saves: number, save: number[]) => median(ns) / (saves * median(save));

function verifyMemoryRows(profile: Profile, { minMs, samples }: PinPathOptions): Row[] {
  const store = new MemoryStore();
  const card = cardFromProfile(profile, { store });
  const max = selectAuthPin(card);
  const m = interleaved([() => lapSample([...verifySteps(card, profile.pins.auth.value, max), bareSaveStep(store)], minMs)], samples);
  const [wrong, right, save] = [m.get('wrong')!, m.get('right')!, m.get('save')!];
  const [rWrong, rRight] = [perSave(wrong, 1, save), perSave(right, 2, save)];
  const row = timedRow(minMs);
  return [
    row(
      `VERIFY auth PIN, **wrong** → 63 C${max - 1}, memory store: 1 save (counter ${max} → ${max - 1}); alternating with the right PIN`,
      wrong,
      `< ${MEM_VERIFY_WRONG_US} µs, ≤ ${MEM_VS_SAVE}× a bare save`,
      median(wrong) < MEM_VERIFY_WRONG_US * 1e3 && rWrong <= MEM_VS_SAVE,
      `${fmt(rWrong, 2)}× a bare save`,
    ),
    row(
      `VERIFY auth PIN, **right** → 90 00, memory store: 2 saves (${max - 1} → ${max - 2} before comparing, then ${max}); right after the wrong one`,
      right,
      `< ${MEM_VERIFY_RIGHT_US} µs, ≤ ${MEM_VS_SAVE}× two bare saves`,
      median(right) < MEM_VERIFY_RIGHT_US * 1e3 && rRight <= MEM_VS_SAVE,
      `${fmt(rRight, 2)}× two bare saves`,
    ),
    row("bare `MemoryStore.save` of the card's state document (a structuredClone), call by call with the two above", save, '(reference)', true),
  ];
}

/** VERIFY then CHANGE REFERENCE DATA on the auth PIN, value A → B → A; the CHANGEs are reported. */
function changeRows(profile: Profile, { minMs, samples }: PinPathOptions): Row[] {
  const store = new MemoryStore();
  const card = cardFromProfile(profile, { store });
  selectAuthPin(card);
  const [a, b] = [profile.pins.auth.value, otherPin(profile.pins.auth.value)];
  const ok = (label: string, cmd: Uint8Array, what: string): Step => ({ label, run: () => expectSw(card, cmd, 0x9000, what) });
  // Every CHANGE follows a VERIFY with the value it replaces.
  const steps = [
    ok('verify', verifyCmd(a), 'VERIFY'),
    ok('change', changeCmd(b), 'CHANGE REFERENCE DATA'),
    ok('verify', verifyCmd(b), 'VERIFY with the new value'),
    ok('change', changeCmd(a), 'CHANGE REFERENCE DATA back'),
    bareSaveStep(store),
  ];
  const m = interleaved([() => lapSample(steps, minMs)], samples);
  const [change, save] = [m.get('change')!, m.get('save')!];
  const r = perSave(change, 1, save);
  return [
    timedRow(minMs)(
      'CHANGE REFERENCE DATA `00 24 01 80 04 …` on the auth PIN → 90 00, right after a VERIFY, memory store: 1 save (new value, counter at max)',
      change,
      `< ${MEM_CHANGE_US} µs, ≤ ${MEM_VS_SAVE}× a bare save`,
      median(change) < MEM_CHANGE_US * 1e3 && r <= MEM_VS_SAVE,
      `${fmt(r, 2)}× a bare save`,
    ),
  ];
}

/**
 * Wrong and right VERIFY with a FileStore in a temp dir, call by call with the same file operations
 * written out by hand (fsync latency on a shared disk drifts by the millisecond, so the comparison is
 * interleaved per call, not per sample), writing the very bytes the store writes.
 */
function verifyFileStoreRows(profile: Profile, { minMs, samples }: PinPathOptions): Row[] {
  const dir = mkdtempSync(join(tmpdir(), 'myna-hil-bench-state-'));
  const statePath = join(dir, 'state.json');
  const card = cardFromProfile(profile, { store: new FileStore(statePath) });
  const max = selectAuthPin(card);
  const bytes = readFileSync(statePath);
  const barePath = join(dir, 'bare.json');
  const plainFd = openSync(join(dir, 'plain.json'), 'w', 0o600);
  const plainFsync = (): Uint8Array => {
    writeSync(plainFd, bytes, 0, bytes.length, 0);
    fsyncSync(plainFd);
    return bytes;
  };
  const steps: Step[] = [
    ...verifySteps(card, profile.pins.auth.value, max),
    { label: 'atomic', run: () => bareAtomicWrite(dir, barePath, bytes) },
    { label: 'fsync', run: plainFsync },
  ];
  let m: Map<string, number[]>;
  try {
    m = interleaved([() => lapSample(steps, minMs)], samples);
  } finally {
    closeSync(plainFd);
    rmSync(dir, { recursive: true, force: true });
  }
  const [wrong, right, atomic, fsync] = ['wrong', 'right', 'atomic', 'fsync'].map((l) => m.get(l)!);
  const bare = median(atomic);
  const rWrong = median(wrong) / bare;
  const rRight = median(right) / (2 * bare);
  const row = timedRow(minMs);
  return [
    row(
      `VERIFY auth PIN, **wrong** → 63 C${max - 1}, **file store** (FileStore in ${tmpdir()}): 1 save = 1 atomic write, bounded by fsync`,
      wrong,
      `≤ ${FILE_VS_BARE}× the bare atomic write`,
      rWrong <= FILE_VS_BARE,
      `${fmt(rWrong, 2)}× the bare atomic write`,
    ),
    row(
      'VERIFY auth PIN, **right** → 90 00, **file store**: 2 saves = 2 atomic writes, bounded by fsync',
      right,
      `≤ ${FILE_VS_BARE}× two bare atomic writes`,
      rRight <= FILE_VS_BARE,
      `${fmt(rRight, 2)}× two bare atomic writes`,
    ),
    row(
      `bare atomic write of the same ${bytes.length} bytes, call by call with the two above: write temp + fsync + close + rename + fsync the directory`,
      atomic,
      '(reference)',
      true,
      `${fmt(bare / median(fsync), 2)}× the bare fsync`,
    ),
    row(`bare fsync, same run: pwrite of the same ${bytes.length} bytes into one open file + fsync`, fsync, '(reference)', true),
  ];
}

/**
 * What a client does to authenticate (docs/card.md §11.1, without its token-EF read and tries-left
 * query, as the Digital Agency's reference app does): SELECT the JPKI AP; SELECT the auth certificate
 * EF and read it as OpenSC does (a 4-byte header, then 256-byte chunks, the last one exact); SELECT
 * the auth PIN and VERIFY it (2 saves, memory store); SELECT the auth key and sign a SHA-256
 * DigestInfo with `80 2A 00 80`. Call by call with a bare crypto.sign of the same message with the
 * same key: the signature is most of the flow.
 */
function authFlowRows(profile: Profile, { minMs, samples }: PinPathOptions): Row[] {
  const card = cardFromProfile(profile);
  card.powerUp();
  const message = Buffer.from('benchmark auth flow');
  const di = Buffer.concat([SHA256_DIGESTINFO_PREFIX, createHash('sha256').update(message).digest()]);
  const signCmd = encodeCommand({ cla: 0x80, ins: 0x2a, p1: 0, p2: 0x80, data: di, ne: 256 });
  const verify = verifyCmd(profile.pins.auth.value);
  const certDer = new X509Certificate(profile.certificates.auth).raw;
  const flow = (): Uint8Array => {
    expectSw(card, SELECT_JPKI, 0x9000, 'SELECT JPKI AP');
    expectSw(card, SELECT_AUTH_CERT, 0x9000, 'SELECT EF 000A');
    const head = expectSw(card, fromHex('00B0000004'), 0x9000, 'READ BINARY header');
    const size = ((head[2] << 8) | head[3]) + 4;
    if (size !== certDer.length) throw new Error(`bench: the certificate header says ${size} bytes, the profile's certificate has ${certDer.length}`);
    for (let off = 0; off < size; off += 256) {
      const n = Math.min(256, size - off);
      const chunk = expectSw(card, encodeCommand({ cla: 0, ins: 0xb0, p1: off >> 8, p2: off & 0xff, ne: n }), 0x9000, `READ BINARY at ${off}`);
      if (chunk.length !== n + 2) throw new Error(`bench: READ BINARY at ${off} returned ${chunk.length - 2} bytes, expected ${n}`);
    }
    expectSw(card, SELECT_AUTH_PIN, 0x9000, 'SELECT EF 0018');
    expectSw(card, verify, 0x9000, 'VERIFY auth PIN');
    expectSw(card, SELECT_AUTH_KEY, 0x9000, 'SELECT EF 0017');
    return expectSw(card, signCmd, 0x9000, '80 2A signature');
  };
  const key = createPrivateKey(profile.keys.auth);
  const steps: Step[] = [
    { label: 'flow', run: flow },
    { label: 'sign', run: () => sign('sha256', message, key) },
  ];
  const out = interleaved([() => lapSample(steps, minMs)], samples);
  const [f, b] = [out.get('flow')!, out.get('sign')!];
  const chunks = Math.ceil(certDer.length / 256);
  const ratio = median(f) / median(b);
  const row = timedRow(minMs);
  return [
    row(
      `auth flow in process: SELECT AP, SELECT 000A + READ BINARY 4 + ${chunks} × ≤ 256 bytes (the ${certDer.length}-byte certificate), SELECT 0018 + VERIFY (90 00), SELECT 0017 + \`80 2A\` SHA-256 DigestInfo; memory store`,
      f,
      `< ${FLOW_MS} ms per flow, ≤ ${FLOW_VS_SIGN}× the bare signature`,
      median(f) < FLOW_MS * 1e6 && ratio <= FLOW_VS_SIGN,
      `${fmt(ratio, 2)}× the bare signature`,
    ),
    row("RSA-2048 `crypto.sign('sha256', …)` bare, the same key and message, call by call with the flow", b, '(reference)', true),
  ];
}
