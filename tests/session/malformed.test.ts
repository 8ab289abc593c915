/** Malformed session files: exit 2 naming file:line and what is wrong, for replay and export alike. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSession } from '../../harness/session/read.ts';
import { InputError } from '../../simulator/errors.ts';
import { cli } from '../support/cli.ts';

const HEADER =
  '{"type":"header","format":"myna-hil/session","version":1,"createdAt":"x","target":"sim","harness":{"name":"myna-hil","version":"0.1.0"},"atr":"3B00","card":{}}';
const CMD = '{"t":1,"type":"command","seq":1,"apdu":"00A4040C"}';

const cases: Array<[string, string, RegExp]> = [
  ['not JSON', `${HEADER}\n${CMD}\n{oops\n`, /s\.jsonl:3: not a JSON object/],
  ['unknown version', HEADER.replace('"version":1', '"version":7'), /s\.jsonl:1: unknown version 7; this myna-hil reads myna-hil\/session version 1/],
  ['no header first', `${CMD}\n`, /s\.jsonl:1: the first line must be the session header/],
  ['bad hex', `${HEADER}\n${CMD.replace('00A4040C', '00A4Z')}\n`, /s\.jsonl:2: field "apdu" must be hex/],
  [
    'response without command',
    `${HEADER}\n{"t":1,"type":"response","seq":9,"apdu":"9000","ms":1}\n`,
    /s\.jsonl:2: a response to seq 9, which no earlier command has/,
  ],
  ['unknown event', `${HEADER}\n{"t":1,"type":"teleport"}\n`, /s\.jsonl:2: unknown event type "teleport"/],
  ['missing t', `${HEADER}\n{"type":"reset"}\n`, /s\.jsonl:2: field "t" must be a number/],
  [
    'cardSw not a status word',
    `${HEADER}\n${CMD}\n{"t":2,"type":"fault","fault":"cut","seq":1,"reachedCard":true,"cardSw":"90"}\n`,
    /s\.jsonl:3: field "cardSw" must be a status word, 4 hex digits/,
  ],
  ['empty', '', /s\.jsonl: empty/],
];

describe('malformed session files', () => {
  it.each(cases)('%s: an InputError naming file:line', (_name, text, message) => {
    expect(() => parseSession(text, 's.jsonl')).toThrow(InputError);
    expect(() => parseSession(text, 's.jsonl')).toThrow(message);
  });

  it('a well-formed file parses (the cases above fail for their own reason)', () => {
    expect(parseSession(`${HEADER}\n${CMD}\n`, 's.jsonl').events).toHaveLength(1);
  });

  const dir = mkdtempSync(join(tmpdir(), 'myna-hil-malformed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('replay and export exit 2 with file:line', async () => {
    const file = join(dir, 's.jsonl');
    writeFileSync(file, `${HEADER}\n${CMD}\n{oops\n`);
    const r = await cli('replay', file, '--card', 'no-such-profile.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:3: not a JSON object`);
    const e = await cli('session', 'export', file, '--format', 'apdu4j');
    expect(e.code).toBe(2);
    expect(e.stderr).toContain(`${file}:3: not a JSON object`);
  }, 30_000);
});
