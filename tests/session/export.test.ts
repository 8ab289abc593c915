/**
 * `myna-hil session export --format apdu4j`: apdu4j's dump format (core DumpFormat: `# ATR:`, `# PROTOCOL:`,
 * `#`, then command / response hex lines, `# Sent` and `# Received in Nms` comments), exactly, for a
 * small session with every kind of event. Only exchanges the card answered become hex pairs, so that
 * apdu4j's reader (every non-comment line is hex, taken in pairs) reads it back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.ts';

const FIXTURE = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

describe('session export --format apdu4j', () => {
  it('writes the golden dump of a known session, to standard output and to --out', async () => {
    const golden = readFileSync(FIXTURE('small.dump'), 'utf8');
    const r = await cli('session', 'export', FIXTURE('small.jsonl'), '--format', 'apdu4j');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(golden);
    const dir = mkdtempSync(join(tmpdir(), 'myna-hil-export-'));
    try {
      const w = await cli('session', 'export', FIXTURE('small.jsonl'), '--format', 'apdu4j', '--out', join(dir, 'small.dump'));
      expect(w.code, w.stderr).toBe(0);
      expect(readFileSync(join(dir, 'small.dump'), 'utf8')).toBe(golden);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('has an even number of hex lines, as apdu4j requires (an unpaired command is a comment)', () => {
    const hex = readFileSync(FIXTURE('small.dump'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'));
    expect(hex).toHaveLength(6);
    expect(hex.every((l) => /^[0-9A-F]+$/.test(l))).toBe(true);
  });
});
