/**
 * Internal faults (a bug in a handler, not a status word): production answers 6F 00 and reports them
 * through onFault; test cards (faults: 'throw', tests/support/card.ts) rethrow them so they fail the
 * test. The fault is a bug injected into VERIFY by replacing the auth PIN's verify method of the built
 * card (a state store that throws would be a storage failure, 65 81, not a bug: tests/card/storage.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../simulator/apdu/codec.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { newCard, testCard, testProfile, tx, verifyCmd } from '../support/card.ts';

const JPKI = '00A4040C0AD392F000260100000001';
const AUTH = '00A4020C020018';
const bug = (): never => {
  throw new TypeError("Cannot read properties of undefined (reading 'x')");
};

/** VERIFY of the auth PIN hits a bug once the PIN has compared (so a wrong PIN has spent its try). */
function breakAuthVerify<C extends VirtualCard>(card: C): C {
  const pin = card.pin('auth');
  const compare = pin.verify.bind(pin);
  pin.verify = (candidate) => {
    compare(candidate);
    return bug();
  };
  return card;
}

let profile: Profile;
beforeAll(async () => {
  profile = await testProfile();
});

describe('internal faults', () => {
  it("faults: 'answer' (the default, serve): 6F 00, reported through onFault with the status word, the card keeps working", () => {
    const card = breakAuthVerify(cardFromProfile(profile));
    const faults: Array<[unknown, number]> = [];
    card.onFault = (err, sw) => faults.push([err, sw]);
    tx(card, JPKI);
    tx(card, AUTH);
    expect(tx(card, verifyCmd('0000')).swHex).toBe('6F00');
    expect(faults).toHaveLength(1);
    expect(faults[0][0]).toBeInstanceOf(TypeError);
    expect(faults[0][1]).toBe(0x6f00);
    expect(tx(card, '00200080').swHex).toBe('63C2'); // answered: the card is still there
  });

  it("faults: 'throw': the fault escapes transmit, so a test sees it", () => {
    const card = breakAuthVerify(testCard(profile));
    tx(card, JPKI);
    tx(card, AUTH);
    expect(() => card.transmit(fromHex(verifyCmd('0000').replace(/\s/g, '')))).toThrow(TypeError);
  });

  it('newCard makes throwing cards; status words are still answered, not thrown', async () => {
    const card = breakAuthVerify(await newCard('adult'));
    expect(tx(card, '00B0000001').swHex).toBe('6986'); // a CardError is a status word, not a fault
    tx(card, JPKI);
    tx(card, AUTH);
    expect(() => tx(card, verifyCmd('0000'))).toThrow(TypeError);
  });
});
