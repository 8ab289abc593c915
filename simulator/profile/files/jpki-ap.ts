/**
 * JPKI AP (公的個人認証AP): the token info EF 0006 (CK_TOKEN_INFO, docs/card.md §3.1.1), the
 * certificate availability EF 0008 and the four certificate EFs (docs/card.md §3.1). The private keys
 * are not files; the card core takes them from the profile.
 *
 * Token info utcTime is 16 spaces [I]: the flags do not set CKF_CLOCK_ON_TOKEN, so PKCS#11 gives
 * utcTime no meaning.
 */
import type { Profile } from '../schema.ts';
import type { DerivedFiles } from '../derived.ts';
import { InputError } from '../../errors.ts';
import { ascii, concat } from '../tlv.ts';
import { fill } from './shared.ts';

function asciiField(value: string, size: number, field: string, pad = 0x20): Uint8Array {
  if (!/^[\x20-\x7e]*$/.test(value) || value.length > size) {
    throw new InputError(`field ${field}: must be at most ${size} printable ASCII characters (fix: shorten it or drop non-ASCII characters)`);
  }
  const out = fill(size, pad);
  out.set(ascii(value));
  return out;
}

/** EF 0006, 160 bytes: CK_TOKEN_INFO with 32-bit big-endian integers (docs/card.md §3.1.1). */
export function tokenInfo(p: Profile): Uint8Array {
  const out = new Uint8Array(160);
  const dv = new DataView(out.buffer);
  out.set(asciiField(p.card.tokenLabel, 32, 'card.tokenLabel'), 0);
  out.set(asciiField(`${'0'.repeat(31)}1`, 32, 'manufacturerID'), 32); // shape seen on cards [1]
  out.set(asciiField('MYNAHIL1', 16, 'model'), 64); // marks the simulator (cards: e.g. "E16R01NJ")
  out.set(asciiField(p.card.tokenSerial, 16, 'card.tokenSerial'), 80);
  dv.setUint32(96, 0x0000040d); // RNG | LOGIN_REQUIRED | USER_PIN_INITIALIZED | TOKEN_INITIALIZED
  for (const [i, v] of [1, 0, 1, 0, 16, 6].entries()) dv.setUint32(100 + 4 * i, v); // sessions, RW sessions, PIN len
  out.fill(0xff, 124, 140); // memory fields: CK_UNAVAILABLE_INFORMATION
  out.set(ascii('0301'), 140); // hardware "03", firmware "01"
  out.fill(0x20, 144, 160); // utcTime: no clock on token [I]
  return out;
}

/** PEM → DER, checking the `30 82` start that OpenSC's 4-byte length read relies on (docs/card.md §8). */
function certificateDer(pem: string, field: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  const der = new Uint8Array(Buffer.from(body, 'base64'));
  if (der.length < 4 || der[0] !== 0x30 || der[1] !== 0x82 || ((der[2] << 8) | der[3]) + 4 !== der.length) {
    throw new InputError(
      `field ${field}: not a DER certificate of the form 30 82 LL LL (OpenSC reads 4 bytes to size it, docs/card.md §8) (fix: regenerate the card with \`myna-hil card new\`)`,
    );
  }
  return der;
}

/** The JPKI AP's EFs: token info, certificate availability, and the certificates (sign one optional). */
export function jpkiFiles(p: Profile): DerivedFiles['jpki'] {
  const certs = p.certificates;
  // Certificate EFs: the DER, then behaviour.certificatePadding filler bytes (docs/card.md §12.7 [U]);
  // clients size the read from the 30 82 header, so a padded EF reads the same.
  const pad = p.behaviour.certificatePadding;
  const certificateEf = (pem: string, field: string) => {
    const der = certificateDer(pem, field);
    return pad.bytes ? concat(der, fill(pad.bytes, pad.byte)) : der;
  };
  return {
    tokenInfo: tokenInfo(p),
    certAvailability: Uint8Array.of(certs.sign ? 0x8f : 0x00, 0x8f, 0x00),
    authCert: certificateEf(certs.auth, 'certificates.auth'),
    signCert: certs.sign ? certificateEf(certs.sign, 'certificates.sign') : undefined,
    authCa: certificateEf(certs.authCa, 'certificates.authCa'),
    signCa: certificateEf(certs.signCa, 'certificates.signCa'),
  };
}
