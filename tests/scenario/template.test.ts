/** Templates stay in parsed values; expandTemplate fills them in, naming the place of an unknown variable. */
import { describe, expect, it } from 'vitest';
import { expandTemplate, templateNames } from '../../harness/scenario/template.ts';
import { inputErrorOf } from '../support/errors.ts';

describe('templateNames', () => {
  it('lists the names in order, repeats kept; braces that are not names (a regex quantifier, JSON) are not templates', () => {
    expect(templateNames('{pins.auth}-{reader}-{pins.auth} {args.out-file} \\d{4} {"a":1} {} {env.HOME}')).toEqual([
      'pins.auth',
      'reader',
      'pins.auth',
      'args.out-file',
      'env.HOME',
    ]);
  });
});

describe('expandTemplate', () => {
  const vars = { 'pins.auth': '4321', 'pins.wrong.auth': '9876', reader: 'Virtual PCD 00 00', workDir: '/tmp/w' };

  it('replaces every occurrence, leaves other text (and non-template braces) alone', () => {
    expect(expandTemplate('--pin={pins.auth} --reader "{reader}" {pins.auth} \\d{4} {workDir}/x', vars)).toBe(
      '--pin=4321 --reader "Virtual PCD 00 00" 4321 \\d{4} /tmp/w/x',
    );
  });

  it('a value holding braces is not expanded again', () => {
    expect(expandTemplate('{reader}', { reader: '{pins.auth}' })).toBe('{pins.auth}');
  });

  it('an unknown variable is an InputError naming the place and the variable, never the text or a value', () => {
    const e = inputErrorOf(() => expandTemplate('1234{challengeFile}', vars, 'suite/a.yaml:7:12'));
    expect(e.message).toBe(
      'suite/a.yaml:7:12: template variable {challengeFile} has no value in this run (known here: pins.auth, pins.wrong.auth, reader, workDir); fix the name or give the value',
    );
    expect(e.message).not.toContain('4321');
    expect(e.message).not.toContain('1234');
  });
});
