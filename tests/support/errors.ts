/** Test support: the InputError a call throws (the test fails when it throws nothing or something else). */
import { expect } from 'vitest';
import { InputError } from '../../simulator/errors.ts';

export function inputErrorOf(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('no error: the input was accepted');
}
