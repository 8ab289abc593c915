/**
 * The guard's refusal status word (`--refuse-sw`, harness/relay/relay.ts refuseReply): the client must
 * take it as a final error, so only SW1 62..6F other than 6C (ISO/IEC 7816-4 §5.1.3: 60xx is no status
 * word at all, 61xx asks for GET RESPONSE, 6Cxx for a resend with another Le); 9xxx would be success.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { InputError } from '../../simulator/errors.ts';
import { refuseReply } from '../../harness/relay/relay.ts';

const isFinalError = (sw: number): boolean => sw >> 8 >= 0x62 && sw >> 8 <= 0x6f && sw >> 8 !== 0x6c;

it('accepts exactly the final error status words and answers them as their 2 bytes', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), (sw) => {
      if (isFinalError(sw)) expect(refuseReply(sw)).toEqual(Uint8Array.of(sw >> 8, sw & 0xff));
      else expect(() => refuseReply(sw)).toThrow(InputError);
    }),
    { examples: [[0x6983], [0x6000], [0x60ff], [0x6100], [0x6c00], [0x9000], [0x6200], [0x6fff]] },
  );
});

it('names the value and the fix', () => {
  expect(() => refuseReply(0x6000)).toThrow('--refuse-sw 6000: the refusal must be an error status word');
  expect(() => refuseReply(0x6000)).toThrow('(fix: --refuse-sw 6983)');
});
