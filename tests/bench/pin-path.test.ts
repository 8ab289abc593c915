/**
 * The PIN-path benchmark (bench/pin-path.ts) and its timing helpers (bench/stats.ts): what each
 * sample runs, how it is reported, and that a card answering otherwise stops the benchmark instead of
 * timing something else. Tiny samples: these tests check behaviour, not speed.
 */
import { describe, expect, it } from 'vitest';
import { benchPinPath, expectSw } from '../../bench/pin-path.ts';
import { fromHex } from '../../simulator/apdu/codec.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import { describeNs, interleaved, lapSample, type Step } from '../../bench/stats.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { testProfile } from '../support/card.ts';

const quiet = () => {};
const tiny = { minMs: 1, samples: 2 };

describe('lapSample', () => {
  it('runs whole rounds of the steps in order until at least minMs have passed, per-call ns by label', () => {
    const calls: string[] = [];
    const step = (label: string, name: string): Step => ({
      label,
      run: () => {
        calls.push(name);
        const until = process.hrtime.bigint() + 100_000n; // 0.1 ms of work per call
        while (process.hrtime.bigint() < until);
        return Uint8Array.of(0x90, 0x00);
      },
    });
    const t0 = performance.now();
    const ns = lapSample([step('v', 'a'), step('c', 'b'), step('v', 'c')], 5);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(5);
    expect(calls.length % 3).toBe(0);
    // Each call takes ≥ 0.1 ms, and the loop stops after the round that reaches 5 ms.
    expect(calls.length).toBeLessThanOrEqual(3 * Math.ceil(5 / 0.3));
    expect(calls.slice(0, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect([...ns.keys()]).toEqual(['v', 'c']);
    for (const v of ns.values()) expect(v).toBeGreaterThanOrEqual(100_000);
    // The per-call times add up to the timed work: at least minMs ('v' ran twice per round).
    const rounds = calls.length / 3;
    expect((2 * ns.get('v')! + ns.get('c')!) * rounds).toBeGreaterThanOrEqual(5e6);
  });
});

describe('interleaved', () => {
  it('runs the samplers in turn, one uncounted warm-up round, then one value per label and round', () => {
    const order: string[] = [];
    let n = 0;
    const sampler = (name: string) => () => {
      order.push(name);
      return new Map([[name, ++n]]);
    };
    const out = interleaved([sampler('x'), sampler('y')], 3);
    expect(order).toEqual(['x', 'y', 'x', 'y', 'x', 'y', 'x', 'y']);
    expect(out.get('x')).toEqual([3, 5, 7]);
    expect(out.get('y')).toEqual([4, 6, 8]);
  });
});

describe('describeNs', () => {
  it('gives the median, min and max in µs, and the sample count and length', () => {
    expect(describeNs([2_500, 1_000, 30_000], 100)).toBe('median 2.5 µs (min 1.0, max 30.0; 3 samples of ≥ 100 ms)');
  });
  it('switches to ms from a median of 1 ms', () => {
    expect(describeNs([1_500_000, 2_000_000], 100)).toBe('median 1.75 ms (min 1.50, max 2.00; 2 samples of ≥ 100 ms)');
  });
});

describe('benchPinPath', () => {
  it('measures every PIN-path row, each as a median with its spread', async () => {
    const rows = benchPinPath(await testProfile(), quiet, tiny);
    const what = rows.map((r) => r.what);
    expect(what).toEqual([
      expect.stringMatching(/^VERIFY auth PIN, \*\*wrong\*\* → 63 C2, memory store: 1 save/),
      expect.stringMatching(/^VERIFY auth PIN, \*\*right\*\* → 90 00, memory store: 2 saves/),
      "bare `MemoryStore.save` of the card's state document (a structuredClone), call by call with the two above",
      expect.stringMatching(/^CHANGE REFERENCE DATA `00 24 01 80 04 …` on the auth PIN → 90 00, right after a VERIFY, memory store: 1 save/),
      expect.stringMatching(/^VERIFY auth PIN, \*\*wrong\*\* → 63 C2, \*\*file store\*\*.*bounded by fsync/),
      expect.stringMatching(/^VERIFY auth PIN, \*\*right\*\* → 90 00, \*\*file store\*\*: 2 saves = 2 atomic writes, bounded by fsync/),
      expect.stringMatching(
        /^bare atomic write of the same \d+ bytes, call by call with the two above: write temp \+ fsync \+ close \+ rename \+ fsync the directory/,
      ),
      expect.stringMatching(/^bare fsync, same run/),
      expect.stringMatching(/^auth flow in process: SELECT AP, SELECT 000A \+ READ BINARY 4 \+ \d+ × ≤ 256 bytes/),
      "RSA-2048 `crypto.sign('sha256', …)` bare, the same key and message, call by call with the flow",
    ]);
    const spread = /^median [\d.,]+ (µs|ms) \(min [\d.,]+, max [\d.,]+; 2 samples of ≥ 1 ms\)/;
    for (const r of rows) expect(r.value).toMatch(spread);
    const ratios = rows.map((r) => /; ([\d.]+)× (.*)$/.exec(r.value)?.[2]);
    expect(ratios).toEqual([
      'a bare save',
      'two bare saves',
      undefined,
      'a bare save',
      'the bare atomic write',
      'two bare atomic writes',
      'the bare fsync',
      undefined,
      'the bare signature',
      undefined,
    ]);
  });

  it('stops when the auth PIN has no try left instead of timing 69 84 answers', async () => {
    const p = await testProfile();
    const locked: Profile = { ...p, pins: { ...p.pins, auth: { ...p.pins.auth, remaining: 0 } } };
    expect(() => benchPinPath(locked, quiet, tiny)).toThrow('bench: the auth PIN must have tries left, the query answered 63C0');
  });

  it('checks every status word: with one try, the right VERIFY after a wrong one answers 69 84 and the bench stops', async () => {
    const p = await testProfile();
    const oneTry: Profile = { ...p, behaviour: { ...p.behaviour, maxTries: { ...p.behaviour.maxTries, auth: 1 } } };
    expect(() => benchPinPath(oneTry, quiet, tiny)).toThrow('bench: right VERIFY (00 20 00 80 <redacted>) answered 6984, expected 9000');
  });

  it('never puts a PIN value into its error messages', async () => {
    const p = await testProfile();
    const card = cardFromProfile(p);
    card.powerUp();
    expectSw(card, fromHex('00A4040C0AD392F000260100000001'), 0x9000, 'SELECT JPKI AP');
    expectSw(card, fromHex('00A4020C020018'), 0x9000, 'SELECT EF 0018');
    const wrong = p.pins.auth.value === '9876' ? '9875' : '9876';
    const verify = fromHex(`0020008004${Buffer.from(wrong).toString('hex')}`);
    let message = '';
    try {
      expectSw(card, verify, 0x9000, 'VERIFY');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('bench: VERIFY (00 20 00 80 <redacted>) answered 63C2, expected 9000');
  });
});
