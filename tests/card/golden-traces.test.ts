/**
 * Golden tests: every example trace of spec section 11, byte for byte. Where a trace shows
 * card-specific bytes (certificates, signatures), they are checked for what they are: the
 * certificate parses and chains, the signature verifies with the certificate's public key.
 */
import { createHash, createPublicKey, publicDecrypt, verify, X509Certificate, constants } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../simulator/apdu/codec.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { newCard, testProfile, tx, verifyCmd } from '../support/card.ts';

/** Written from docs/card.md §6 (RFC 8017), not imported from the card: a wrong prefix there must fail here. */
const SHA256_DIGESTINFO_PREFIX = fromHex('30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20');

const JPKI = '00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01';
const TEXT = '00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08';
const FACE = '00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02';

function expectOk(card: VirtualCard, cmd: string): Uint8Array {
  const r = tx(card, cmd);
  expect(r.swHex, cmd).toBe('9000');
  return r.data;
}

/** OpenSC's way: READ 4 for the header (30 82 LL LL), then 256-byte chunks, the last one exact. */
function readCertificateOpenScStyle(card: VirtualCard): Uint8Array {
  const head = expectOk(card, '00 B0 00 00 04');
  expect(head[0]).toBe(0x30);
  expect(head[1]).toBe(0x82);
  const size = ((head[2] << 8) | head[3]) + 4;
  const out = new Uint8Array(size);
  for (let off = 0; off < size; off += 256) {
    const n = Math.min(256, size - off);
    const cmd = `00 B0 ${toHex(Uint8Array.of(off >> 8, off & 0xff))} ${n === 256 ? '00' : toHex(Uint8Array.of(n))}`;
    const chunk = expectOk(card, cmd);
    expect(chunk.length).toBe(n);
    out.set(chunk, off);
  }
  return out;
}

function digestInfo(message: string): string {
  return toHex(Buffer.concat([SHA256_DIGESTINFO_PREFIX, createHash('sha256').update(message).digest()]));
}

describe('spec section 11 traces', () => {
  let card: VirtualCard;
  beforeEach(async () => {
    card = await newCard();
    card.powerUp();
  });

  it('11.1 (a) auth certificate, auth PIN, signature with the auth key', async () => {
    const profile = await testProfile();
    expectOk(card, JPKI);
    expectOk(card, '00 A4 02 0C 02 00 06');
    const token = expectOk(card, '00 B0 00 00 20');
    expect(toHex(token)).toBe(toHex(Buffer.from(`JPKIAPICCTOKEN2${' '.repeat(17)}`)));
    expectOk(card, '00 A4 02 0C 02 00 0A');
    const der = readCertificateOpenScStyle(card);
    const cert = new X509Certificate(der);
    expect(cert.raw.length).toBe(der.length);
    expect(cert.verify(new X509Certificate(profile.certificates.authCa).publicKey)).toBe(true);
    expectOk(card, '00 A4 02 0C 02 00 18');
    expect(tx(card, '00 20 00 80').swHex).toBe('63C3');
    expectOk(card, verifyCmd(profile.pins.auth.value));
    expectOk(card, '00 A4 02 0C 02 00 17');
    const challenge = 'login challenge 2026';
    const sig = expectOk(card, `80 2A 00 80 33 ${digestInfo(challenge)} 00`);
    expect(sig.length).toBe(256);
    expect(verify('sha256', Buffer.from(challenge), cert.publicKey, sig)).toBe(true);
  });

  it('11.1 the c-3lab way: READ 4, then one extended READ BINARY of the whole certificate', () => {
    expectOk(card, JPKI);
    expectOk(card, '00 A4 02 0C 02 00 0A');
    const head = expectOk(card, '00 B0 00 00 04');
    const size = ((head[2] << 8) | head[3]) + 4;
    const whole = expectOk(card, `00 B0 00 00 00 ${toHex(Uint8Array.of(size >> 8, size & 0xff))}`);
    expect(whole.length).toBe(size);
    expect(() => new X509Certificate(whole)).not.toThrow();
    // Le larger than what is left returns what is left with 90 00
    const tail = expectOk(card, `00 B0 ${toHex(Uint8Array.of((size - 10) >> 8, (size - 10) & 0xff))} 00`);
    expect(toHex(tail)).toBe(toHex(whole.subarray(size - 10)));
    // offset past the end
    expect(tx(card, `00 B0 ${toHex(Uint8Array.of(size >> 8, size & 0xff))} 01`).swHex).toBe('6B00');
  });

  it('11.2 (b) sign password, sign certificate, signature with the sign key', async () => {
    const profile = await testProfile();
    expectOk(card, JPKI);
    expectOk(card, '00 A4 02 0C 02 00 01');
    expect(tx(card, '00 B0 00 00 04').swHex).toBe('6982'); // without the VERIFY
    expectOk(card, '00 A4 02 0C 02 00 1B');
    expect(tx(card, '00 20 00 80').swHex).toBe('63C5');
    expectOk(card, verifyCmd(profile.pins.sign.value));
    expectOk(card, '00 A4 02 0C 02 00 01');
    const cert = new X509Certificate(readCertificateOpenScStyle(card));
    expect(cert.verify(new X509Certificate(profile.certificates.signCa).publicKey)).toBe(true);
    expectOk(card, '00 A4 02 0C 02 00 1A');
    const signedAttrs = 'CMS signedAttrs stand-in';
    const sig = expectOk(card, `80 2A 00 80 33 ${digestInfo(signedAttrs)} 00`);
    expect(verify('sha256', Buffer.from(signedAttrs), cert.publicKey, sig)).toBe(true);
  });

  it('11.3 (c) My Number and the basic 4 attributes', async () => {
    const profile = await testProfile();
    expectOk(card, TEXT);
    expectOk(card, '00 A4 02 0C 02 00 11');
    expectOk(card, verifyCmd(profile.pins.kenmen.value));
    expectOk(card, '00 A4 02 0C 02 00 01');
    expect(toHex(expectOk(card, '00 B0 00 00 11'))).toBe('FF100C313233343536373839303138FFFF');
    expectOk(card, '00 A4 02 0C 02 00 02');
    expect(toHex(expectOk(card, '00 B0 00 00 07'))).toBe('FF2056DF210800');
    const rest = expectOk(card, '00 B0 00 07 52');
    expect(toHex(rest)).toBe(
      toHex(
        fromHex(
          `0E 00 20 00 4A 00 55
           DF 22 0F E5 B1 B1 E7 94 B0 E3 80 80 E5 A4 AA E9 83 8E
           DF 23 27 E6 9D B1 E4 BA AC E9 83 BD E5 8D 83 E4 BB A3 E7 94 B0 E5 8C BA
                    E5 8D 83 E4 BB A3 E7 94 B0 EF BC 91 EF BC 8D EF BC 91
           DF 24 08 31 39 38 30 30 31 30 31
           DF 25 01 31`,
        ),
      ),
    );
  });

  it('11.4 (d) OpenSC pkcs11-tool --login --sign: probes refused, GET_INFO, listing, login, sign', async () => {
    const profile = await testProfile();
    // other drivers' probes (a sample of ctx.c's order): never 90 00
    for (const aid of [
      'A0 00 00 03 08 00 00 10 00 01 00',
      'A0 00 00 00 63 50 4B 43 53 2D 31 35',
      'D2 76 00 01 24 01',
      'E8 28 BD 08 0F A0 00 00 01 67 45 53 49 47 4E',
      'A0 00 00 00 79 01 00',
    ]) {
      const n = fromHex(aid).length;
      expect(tx(card, `00 A4 04 00 ${toHex(Uint8Array.of(n))} ${aid} 00`).swHex).toBe('6A82');
      expect(tx(card, `00 A4 04 0C ${toHex(Uint8Array.of(n))} ${aid}`).swHex).toBe('6A82');
    }
    expect(tx(card, '00 CA 9F 7F 00').swHex).not.toBe('9000'); // CPLC probe
    expectOk(card, JPKI); // match
    expectOk(card, JPKI); // emulator init
    expectOk(card, '00 A4 02 0C 02 00 18');
    expect(tx(card, '00 20 00 80').swHex).toBe('63C3');
    expectOk(card, '00 A4 02 0C 02 00 1B');
    expect(tx(card, '00 20 00 80').swHex).toBe('63C5');
    expectOk(card, '00 A4 02 0C 02 00 0A');
    const cert = new X509Certificate(readCertificateOpenScStyle(card));
    expectOk(card, '00 A4 02 0C 02 00 18');
    expectOk(card, verifyCmd(profile.pins.auth.value));
    expect(tx(card, '00 20 00 80').swHex).toBe('63C3'); // query after success: still 63 Cx
    expectOk(card, '00 A4 02 0C 02 00 17');
    const sig = expectOk(card, `80 2A 00 80 33 ${digestInfo('pkcs11 data')} 00`);
    expect(verify('sha256', Buffer.from('pkcs11 data'), cert.publicKey, sig)).toBe(true);
    // logout = re-selecting the AP clears the verified state
    expectOk(card, JPKI);
    expectOk(card, '00 A4 02 0C 02 00 17');
    expect(tx(card, `80 2A 00 80 33 ${digestInfo('again')} 00`).swHex).toBe('6982');
  });

  it('11.5 (e) photo via 照合番号A, and the card face via 照合番号B', async () => {
    const profile = await testProfile();
    expectOk(card, FACE);
    expectOk(card, '00 A4 02 0C 02 00 02');
    expect(tx(card, '00 B0 00 00 07').swHex).toBe('6982');
    expectOk(card, '00 A4 02 0C 02 00 13');
    expectOk(card, verifyCmd(profile.holder.myNumber));
    expectOk(card, '00 A4 02 0C 02 00 02');
    const head = expectOk(card, '00 B0 00 00 07');
    expect(toHex(head.subarray(0, 3))).toBe('FF2082');
    expect(toHex(head.subarray(5, 7))).toBe('DF21');
    const total = ((head[3] << 8) | head[4]) + 5;
    const chunks: Uint8Array[] = [head];
    for (let off = 7; off < total; off += 256) {
      chunks.push(expectOk(card, `00 B0 ${toHex(Uint8Array.of(off >> 8, off & 0xff))} ${toHex(Uint8Array.of(Math.min(256, total - off) & 0xff))}`));
    }
    const face = Buffer.concat(chunks);
    expect(face.length).toBe(total);
    // the photo (DF27) is a JP2 file: find its signature box
    expect(face.includes(Buffer.from('0000000C6A5020200D0A870A', 'hex'))).toBe(true);
    // 5 is readable with A only
    expectOk(card, '00 A4 02 0C 02 00 05');
    expectOk(card, '00 B0 00 00 01');

    // 照合番号B: era YYMMDD + expiry year + security code
    expectOk(card, FACE);
    expectOk(card, '00 A4 02 0C 02 00 12');
    const b = profile.holder.birthDate; // 1980-01-01 → 昭和55
    expect(b).toBe('1980-01-01');
    const pinB = `550101${profile.card.expiry.slice(0, 4)}${profile.card.securityCode}`;
    expectOk(card, verifyCmd(pinB));
    expectOk(card, '00 A4 02 0C 02 00 02');
    expectOk(card, '00 B0 00 00 07');
    expectOk(card, '00 A4 02 0C 02 00 05');
    expect(tx(card, '00 B0 00 00 01').swHex).toBe('6982'); // B does not open 0005
  });

  it('11.6 error traces: wrong auth PIN to the lock, sign without VERIFY, unknown EF and AID', async () => {
    const profile = await testProfile();
    expectOk(card, JPKI);
    expectOk(card, '00 A4 02 0C 02 00 18');
    expect(tx(card, '00 20 00 80 04 30 30 30 30').swHex).toBe('63C2');
    expect(tx(card, '00 20 00 80 04 30 30 30 30').swHex).toBe('63C1');
    expect(tx(card, '00 20 00 80 04 30 30 30 30').swHex).toBe('63C0');
    expect(tx(card, verifyCmd(profile.pins.auth.value)).swHex).toBe('6984');
    expect(tx(card, '00 20 00 80').swHex).toBe('63C0');
    expectOk(card, '00 A4 02 0C 02 00 17');
    expect(tx(card, `80 2A 00 80 33 ${digestInfo('x')} 00`).swHex).toBe('6982');
    expect(tx(card, '00 A4 02 0C 02 00 99').swHex).toBe('6A82');
    expect(tx(card, '00 A4 04 00 07 A0 00 00 00 03 10 10').swHex).toBe('6A82');
  });

  it('the signature schemes P1 00-05 all verify with node:crypto', async () => {
    const profile = await testProfile();
    const pub = createPublicKey(new X509Certificate(profile.certificates.auth).publicKey.export({ format: 'pem', type: 'spki' }));
    expectOk(card, JPKI);
    expectOk(card, '00 A4 02 0C 02 00 18');
    expectOk(card, verifyCmd(profile.pins.auth.value));
    expectOk(card, '00 A4 02 0C 02 00 17');
    const msg = Buffer.from('message to be signed by the card');
    const hash = createHash('sha256').update(msg).digest();
    const sign = (p1: number, data: Uint8Array) =>
      expectOk(card, `80 2A ${toHex(Uint8Array.of(p1))} 80 ${toHex(Uint8Array.of(data.length))} ${toHex(data)} 00`);
    const recovered = (sig: Uint8Array) => publicDecrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, sig);
    // 00: PKCS#1 v1.5 over the DigestInfo as given
    expect(verify('sha256', msg, pub, sign(0, Buffer.concat([SHA256_DIGESTINFO_PREFIX, hash])))).toBe(true);
    // 01: the bare hash of the message
    expect(recovered(sign(1, msg)).equals(hash)).toBe(true);
    // 02: a hash wrapped in a DigestInfo
    expect(verify('sha256', msg, pub, sign(2, hash))).toBe(true);
    // 03: sha256WithRSAEncryption over the message
    expect(verify('sha256', msg, pub, sign(3, msg))).toBe(true);
    // 04 / 05: PSS, salt length 32, MGF1-SHA-256
    const pss = { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    expect(verify('sha256', msg, pss, sign(4, hash))).toBe(true);
    expect(verify('sha256', msg, pss, sign(5, msg))).toBe(true);
    // PSS is randomised, PKCS#1 v1.5 deterministic
    expect(toHex(sign(5, msg))).not.toBe(toHex(sign(5, msg)));
    expect(toHex(sign(3, msg))).toBe(toHex(sign(3, msg)));
    // P1 06 and bad lengths
    expect(tx(card, `80 2A 06 80 20 ${toHex(hash)} 00`).swHex).toBe('6A86');
    expect(tx(card, `80 2A 02 80 1F ${toHex(hash.subarray(1))} 00`).swHex).toBe('6700');
    expect(tx(card, `80 2A 04 80 21 ${toHex(hash)}00 00`).swHex).toBe('6700');
    // P2 = 80 + SFI names the key directly: byte-identical signature
    expectOk(card, '00 A4 02 0C 02 00 0A');
    const viaSfi = expectOk(card, `80 2A 03 97 ${toHex(Uint8Array.of(msg.length))} ${toHex(msg)} 00`);
    expectOk(card, '00 A4 02 0C 02 00 17');
    expect(toHex(viaSfi)).toBe(toHex(sign(3, msg)));
  });
});
