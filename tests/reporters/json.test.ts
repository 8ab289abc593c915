import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonReporter } from '../../harness/reporters/json.ts';
import { feed, passed, RUN } from './events.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'myna-hil-json-'));
  dirs.push(d);
  return d;
}

describe('json reporter', () => {
  it('writes run.jsonl: the header line, then every event as emitted; parsed back it equals the events', async () => {
    const outDir = join(tempDir(), 'reports', 'nested'); // created when missing
    const { files } = await feed(jsonReporter, RUN, { outDir });
    const path = join(outDir, 'run.jsonl');
    expect(files).toEqual([path]);
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(lines).toHaveLength(RUN.length + 1);
    expect(JSON.parse(lines[0]!)).toEqual({
      format: 'myna-hil/run-events',
      version: 1,
      harnessVersion: '0.1.0',
      target: 'sim',
      time: '2026-12-01T09:30:00.000Z',
    });
    expect(lines.slice(1).map((l) => JSON.parse(l))).toEqual(RUN);
    // control characters and ANSI of client output stay one line each (JSON escapes them) and are kept as emitted
    expect(lines.some((l) => l.includes('\\u001b[31m残り1回'))).toBe(true);
    expect(readdirSync(outDir)).toEqual(['run.jsonl']); // no temporary file left beside it
  });

  it('replaces the run.jsonl of an earlier run as a whole', async () => {
    const outDir = tempDir();
    writeFileSync(join(outDir, 'run.jsonl'), 'an older run, much longer than this one\n'.repeat(1000));
    await feed(jsonReporter, [RUN[0]!, ...passed], { outDir });
    const lines = readFileSync(join(outDir, 'run.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines.slice(1).map((l) => JSON.parse(l))).toEqual([RUN[0], ...passed]);
    expect(readdirSync(outDir)).toEqual(['run.jsonl']);
  });

  it('refuses a stream without run-start (the header would have no target) and writes nothing', async () => {
    const outDir = tempDir();
    await expect(feed(jsonReporter, passed, { outDir })).rejects.toThrow('json reporter: the event stream has no run-start event');
    expect(readdirSync(outDir)).toEqual([]);
  });
});
