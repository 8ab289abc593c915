import { describe, expect, it } from 'vitest';
import { consoleReporter, fitColumns } from '../../harness/reporters/console.ts';
import { createReporters, REPORTERS } from '../../harness/reporters/index.ts';
import type { RunEvent } from '../../harness/runner/events.ts';
import { inputErrorOf } from '../support/errors.ts';
import { failed, feed, KIOSK, notApplicable, passed, RUN, runStart } from './events.ts';

const PLAIN = [
  'PASS  reads the auth certificate [CLIENT-001] (20 ms)',
  'FAIL  asks before the last try [CLIENT-012] (1.25 s)',
  `      ${KIOSK}:28:13: exit: expected 3, got 0`,
  `      ${KIOSK}:34:7: trace never: expected no VERIFY with data after 63 C1, got 00 20 00 80 <redacted> (VERIFY) answered 6983`,
  '      last 5 of 7 APDUs:',
  '        > 00 20 00 80 <redacted> (VERIFY) < 63C2, 0 bytes, 3 ms',
  '        > 00 20 00 80 (VERIFY) < 63C2, 0 bytes, 2 ms',
  '        > 00 20 00 80 <redacted> (VERIFY) < 63C1, 0 bytes, 3 ms',
  '        > 00 20 00 80 (VERIFY) < 63C1, 0 bytes, 2 ms',
  '        > 00 20 00 80 <redacted> (VERIFY) < 6983, 0 bytes, 3 ms',
  'ERROR survives a reset (7 ms)',
  '      scenarios/lab/pcsc.only.yaml:6:5: pcscd stopped answering',
  '      APDUs:',
  '        > 00 20 00 80 (VERIFY) < 63C3, 0 bytes, 2 ms',
  'N/A   kiosk over PC/SC [KIOSK-003] (0 ms)',
  '      needs pcscd: exec client "kiosk-cli" on target sim',
  '1 passed, 1 failed, 1 not applicable, 1 errors (1.30 s)',
];

describe('console reporter, not a terminal', () => {
  it('prints a line per scenario, the failing expectations and last APDUs, and the summary: exactly these lines', async () => {
    const { text, files } = await feed(consoleReporter, RUN);
    expect(text.split('\n')).toEqual([...PLAIN, '']);
    expect(text).not.toContain('\u001b');
    expect(files).toEqual([]);
  });

  it('cleans what scenario files and clients wrote: no escape sequence or control character reaches the terminal', async () => {
    const events: RunEvent[] = [
      runStart,
      { type: 'scenario-start', scenario: 'x.yaml#0', file: 'x.yaml', name: 'two\nlines \u001b[2Jcleared\u0007', id: 'ID\u009b1m', where: 'x.yaml:1:1' },
      { type: 'scenario-end', scenario: 'x.yaml#0', status: 'error', message: 'client died:\u001b[31m SIGKILL\r', where: 'x.yaml:4:3', durationMs: 3 },
    ];
    const { text } = await feed(consoleReporter, events);
    expect(text.split('\n')).toEqual([
      'ERROR two lines cleared [ID] (3 ms)',
      '      x.yaml:4:3: client died: SIGKILL',
      '0 passed, 0 failed, 0 not applicable, 1 errors',
      '',
    ]);
  });

  it('counts a scenario that started and never ended as an error when the run ends without run-end', async () => {
    const { text } = await feed(consoleReporter, [runStart, ...passed, failed[0]!, failed[1]!]);
    expect(text.split('\n')).toEqual(['PASS  reads the auth certificate [CLIENT-001] (20 ms)', '1 passed, 0 failed, 0 not applicable, 1 errors', '']);
  });
});

describe('console reporter on a terminal', () => {
  it('rewrites a progress line in place (scenario i/n, current step) and colours the statuses', async () => {
    const { text } = await feed(consoleReporter, [runStart, ...passed, ...notApplicable], { tty: true, columns: 200 });
    expect(text).toBe(
      [
        '\r\u001b[2K[1/4] reads the auth certificate',
        '\r\u001b[2K[1/4] reads the auth certificate - step 1 client: read-auth-cert',
        '\r\u001b[2K\u001b[32mPASS \u001b[0m reads the auth certificate [CLIENT-001] (20 ms)\n',
        '\r\u001b[2K[2/4] kiosk over PC/SC',
        '\r\u001b[2K\u001b[33mN/A  \u001b[0m kiosk over PC/SC [KIOSK-003] (0 ms)\n',
        '      needs pcscd: exec client "kiosk-cli" on target sim\n',
        '1 passed, 0 failed, 1 not applicable, 0 errors\n',
      ].join(''),
    );
  });

  it("cuts the progress line to the terminal's width, wide characters counting two, so that it never wraps", async () => {
    const events: RunEvent[] = [runStart, { type: 'scenario-start', scenario: 'j.yaml#0', file: 'j.yaml', name: '暗証番号の残り回数', where: 'j.yaml:1:1' }];
    const { text } = await feed(consoleReporter, events, { tty: true, columns: 16 });
    // 15 columns: "[1/4] " (6) + four wide characters (8) + nothing of the fifth (it would need 2)
    expect(text.startsWith('\r\u001b[2K[1/4] 暗証番号\r\u001b[2K')).toBe(true);
    expect(fitColumns('残り1回です', 5)).toBe('残り1');
    expect(fitColumns('abc', 10)).toBe('abc');
    expect(fitColumns('ｱｲｳ', 2)).toBe('ｱｲ'); // half-width katakana: one column each
  });
});

describe('REPORTERS', () => {
  it('names console, html, json and junit; an unknown name is an input error naming --reporter and the choices', () => {
    expect(Object.keys(REPORTERS)).toEqual(['console', 'html', 'json', 'junit']);
    const options = { outDir: 'reports', out: process.stdout, tty: false };
    expect(createReporters(['junit', 'console'], options).map((r) => r.name)).toEqual(['junit', 'console']);
    expect(inputErrorOf(() => createReporters(['xml'], options)).message).toBe('--reporter: unknown reporter "xml"; use one of: console, html, json, junit');
    expect(inputErrorOf(() => createReporters(['toString'], options)).message).toContain('unknown reporter "toString"');
  });
});
