/** Templates, wrong PIN values and the PIN mask. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandTemplate, PinMask, wrongPinValue } from '../../harness/runner/templates.ts';
import { randomPinValue } from '../../harness/targets/card-host.ts';
import { USER_PIN_FORMATS } from '../../simulator/pin/rules.ts';
import { PIN_KINDS } from '../../harness/scenario/model.ts';
import { inputErrorOf } from '../support/errors.ts';

describe('templates', () => {
  it('expands known names and leaves regex-like braces alone', () => {
    expect(expandTemplate('{pins.auth}-{env.X}-\\d{4}', { 'pins.auth': '1234', 'env.X': 'y' }, 'f:1:1')).toBe('1234-y-\\d{4}');
  });

  it('an unknown name is an input error naming the place and the fix', () => {
    expect(inputErrorOf(() => expandTemplate('{pins.oops}', { 'pins.auth': '1' }, 's.yaml:3:7')).message).toBe(
      's.yaml:3:7: template {pins.oops} has no value in this run; use one of {pins.auth}',
    );
    expect(inputErrorOf(() => expandTemplate('{env.NOPE}', {}, 's.yaml:3:7')).message).toMatch(/set the environment variable NOPE/);
  });
});

describe('wrong PIN values', () => {
  it('are valid for the PIN and differ from the value', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PIN_KINDS), fc.integer({ min: 0, max: 50 }), (kind, _round) => {
        const v = randomPinValue(kind);
        const w = wrongPinValue(kind, v);
        expect(w).not.toBe(v);
        expect(USER_PIN_FORMATS[kind].valid(w)).toBe(true);
      }),
    );
    expect(wrongPinValue('auth', '9999')).toBe('0000');
    expect(wrongPinValue('sign', 'ABC12Z')).toBe('ABC12A');
  });
});

describe('the PIN mask', () => {
  it('replaces every value, longest first, and keeps old values after a change', () => {
    const m = new PinMask();
    m.add({ auth: '1234', sign: 'AB1234CD', juki: '5678', kenmen: '0000', common: '5678' });
    m.add({ auth: '4321', sign: 'AB1234CD', juki: '5678', kenmen: '0000', common: '5678' });
    expect(m.apply('x AB1234CD 1234 4321 5678')).toBe('x <pin:sign> <pin:auth> <pin:auth> <pin:common>');
  });
});
