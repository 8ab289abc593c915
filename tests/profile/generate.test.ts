/**
 * generateProfile: every variant, the certificate chain, the holder in the sign certificate, and the
 * issuer signatures checked the way a client checks them (against the bytes the card serves, with the
 * key from the CVC), including a tampered card.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, publicDecrypt, constants, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { generateProfile } from '../../simulator/profile/generate.ts';
import { AsnConvert } from '@peculiar/asn1-schema';
import { DirectoryString, SubjectAlternativeName } from '@peculiar/asn1-x509';
import { cvcTbs, deriveFiles, faceAgeTbs, myNumberImageTbs, textApKeyTbs, textIntegrityTbs } from '../../simulator/profile/files.ts';
import { ProfileV1, Variant, type Profile } from '../../simulator/profile/schema.ts';
import { InputError } from '../../simulator/errors.ts';
import { publicKeyFromCard } from '../../harness/flows/card-ref.ts';
import { readAll, readTlv, type Tlv } from '../../harness/flows/tlv.ts';
import * as x509 from '../support/x509.ts';
import { clone, fromHex, hex, profileOf } from './support.ts';

/** The JPKI personal-data otherName OIDs, from the card reference (docs/card.md §3.1 EF 0001). */
const JPKI_SAN = {
  name: '1.2.392.200149.8.5.5.1',
  nameAlt: '1.2.392.200149.8.5.5.2',
  sex: '1.2.392.200149.8.5.5.3',
  birthDate: '1.2.392.200149.8.5.5.4',
  address: '1.2.392.200149.8.5.5.5',
  addressAlt: '1.2.392.200149.8.5.5.6',
} as const;

/**
 * A client's reading of the sign certificate's personal data: the certificate parsed by
 * @peculiar/x509, the subjectAltName's otherName entries (which @peculiar/x509 does not decode) by
 * @peculiar/asn1-x509, each value a DirectoryString. OID → text, in certificate order.
 */
function jpkiAltNames(pem: string): Map<string, string> {
  const san = new x509.X509Certificate(pem).getExtension('2.5.29.17');
  const out = new Map<string, string>();
  if (!san) return out;
  for (const g of AsnConvert.parse(san.value, SubjectAlternativeName)) {
    if (g.otherName) out.set(g.otherName.typeId, AsnConvert.parse(g.otherName.value, DirectoryString).toString());
  }
  return out;
}

const sha256 = (...u: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const x of u) h.update(x);
  return new Uint8Array(h.digest());
};
const objectsOf = (file: Uint8Array): Tlv[] => readAll(file, readTlv(file).headerLength);
const der = (pem: string) => new X509Certificate(pem);

const profiles = new Map<Variant, Profile>();
beforeAll(async () => {
  const list = await Promise.all(Variant.options.map((v) => profileOf(v)));
  for (const [i, v] of Variant.options.entries()) profiles.set(v, list[i]);
});
const P = (v: Variant) => profiles.get(v)!;

describe('variants', () => {
  it.each(Variant.options)('%s generates a profile that validates against schema v1 and derives its files', (v) => {
    const p = P(v);
    expect(ProfileV1.parse(p)).toEqual(p);
    expect(p.variant).toBe(v);
    expect(deriveFiles(p).text.size).toBe(8);
  });

  it('adult: sign key and certificate, every PIN at its maximum', () => {
    const p = P('adult');
    expect(p.keys.sign && p.certificates.sign).toBeTruthy();
    expect(Object.values(p.pins).every((x) => x.remaining === undefined)).toBe(true);
    expect(p.card.tokenLabel).toBe('JPKIAPICCTOKEN2');
  });

  it('minor: under 15, no sign key or certificate, EF 0008 00 8F 00', () => {
    const p = P('minor');
    expect(p.keys.sign).toBeUndefined();
    expect(p.certificates.sign).toBeUndefined();
    const age = new Date().getUTCFullYear() - Number(p.holder.birthDate.slice(0, 4));
    expect(age).toBeLessThanOrEqual(15);
    expect(hex(deriveFiles(p).jpki.certAvailability)).toBe('008F00');
  });

  it('expired: card expiry and certificate notAfter in the past', () => {
    const p = P('expired');
    expect(p.card.expiry < new Date().toISOString().slice(0, 10)).toBe(true);
    for (const pem of [p.certificates.auth, p.certificates.sign!]) expect(new Date(der(pem).validTo).getTime()).toBeLessThan(Date.now());
  });

  it('locked: the auth PIN (default) has 0 tries; face-auth-only: auth locked and no sign certificate', () => {
    expect(P('locked').pins.auth.remaining).toBe(0);
    expect(P('locked').pins.sign.remaining).toBeUndefined();
    const f = P('face-auth-only');
    expect(f.pins.auth.remaining).toBe(0);
    expect(f.certificates.sign).toBeUndefined();
  });

  it('smartphone: label JPKIAPGPSETOKEN and the auth certificate behind the PIN', () => {
    const p = P('smartphone');
    expect(p.card.tokenLabel).toBe('JPKIAPGPSETOKEN');
    expect(p.behaviour.authCertNeedsPin).toBe(true);
  });

  it('locked with --locked-pin sign, and every option reaches the profile', async () => {
    const p = await generateProfile({
      variant: 'locked',
      lockedPin: 'sign',
      signPin: 'ZX81SPECTRUM',
      authPin: '0420',
      jukiPin: '1111',
      kenmenPin: '2222',
      name: '鈴木　花子',
      nameAlt: '00100',
      address: '大阪府大阪市北区中之島１－３－２０',
      birthDate: '1995-04-01',
      sex: '2',
      myNumber: '234567890121',
      expiry: '2034-04-01',
      securityCode: '9876',
      municipality: '27127',
      now: new Date('2026-01-15T03:00:00Z'),
    });
    expect(p.pins.sign).toEqual({ value: 'ZX81SPECTRUM', remaining: 0 });
    expect(p.pins.common.value).toBe('1111'); // defaults to the juki PIN
    expect(p.holder).toMatchObject({ name: '鈴木　花子', nameAlt: '00100', sex: '2', myNumber: '234567890121', birthDate: '1995-04-01' });
    expect(p.card).toMatchObject({ expiry: '2034-04-01', securityCode: '9876', municipalityCode: '27127' });
    expect(p.createdAt).toBe('2026-01-15T03:00:00.000Z');
    expect(deriveFiles(p).verification.b).toBe('07040120349876'); // 平成7-04-01, 2034, 9876
  });
});

describe('option validation (InputError naming the option, before any key is generated)', () => {
  const cases: Array<[Parameters<typeof generateProfile>[0], RegExp]> = [
    [{ authPin: '12345' }, /^option authPin \(--auth-pin\): .*4 digits/],
    [{ jukiPin: 'abcd' }, /^option jukiPin \(--juki-pin\)/],
    [{ kenmenPin: '12' }, /^option kenmenPin/],
    [{ commonPin: '' }, /^option commonPin/],
    [{ myNumber: '123456789012' }, /^option myNumber \(--my-number\): the check digit is wrong: after 12345678901 it must be 8 \(fix: use 123456789018\)/],
    [{ myNumber: '12345' }, /^option myNumber: must be 12 digits|^option myNumber \(--my-number\): must be 12 digits/],
    [{ birthDate: '1980-02-30' }, /^option birthDate \(--birth-date\): "1980-02-30" is not a calendar date/],
    [{ birthDate: '1850-01-01' }, /before the 明治 era/],
    [{ birthDate: '2999-01-01' }, /is in the future/],
    [{ variant: 'minor', birthDate: '1980-01-01' }, /a minor card .* under 15/],
    [{ sex: 'M' }, /^option sex \(--sex\): "M" is not a JIS X 0303 code/],
    [{ expiry: '2001-01-01' }, /^option expiry \(--expiry\): 2001-01-01 is in the past \(fix: a future date, or --variant expired\)/],
    [{ variant: 'expired', expiry: '2999-01-01' }, /not in the past/],
    [{ securityCode: '12a4' }, /^option securityCode/],
    [{ municipality: '99101' }, /^option municipality \(--municipality\): .*prefecture 01-47/],
    [{ lockedPin: 'sign' }, /^option lockedPin \(--locked-pin\): only applies to the locked variant/],
    [{ variant: 'locked', lockedPin: 'pin9' }, /^option lockedPin .*unknown PIN/],
    [{ variant: 'child' as Variant }, /^option variant \(--variant\): unknown variant "child"/],
    [{ name: '' }, /^option name \(--name\): must have 1 to 50 characters/],
    [{ address: '東京\n都' }, /^option address \(--address\): contains a control character/],
    [{ photoJp2: new Uint8Array([0xff, 0xd8, 0xff]) }, /^option photoJp2 \(--photo\): not a JPEG 2000 file/],
  ];
  it.each(cases.map((c, i) => [i, ...c] as const))('case %i', async (_i, options, message) => {
    const err = await generateProfile(options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/\(fix: .+\)$/);
  });
});

describe('certificates', () => {
  it('chain to the card CAs, are sha256WithRSAEncryption DER starting 30 82, and carry the JPKI key usages', () => {
    const p = P('adult');
    const authCa = der(p.certificates.authCa),
      signCa = der(p.certificates.signCa);
    const auth = der(p.certificates.auth),
      sign = der(p.certificates.sign!);
    expect(auth.verify(authCa.publicKey)).toBe(true);
    expect(auth.checkIssued(authCa)).toBe(true);
    expect(sign.verify(signCa.publicKey)).toBe(true);
    expect(sign.checkIssued(signCa)).toBe(true);
    expect(sign.verify(authCa.publicKey)).toBe(false);
    expect(authCa.verify(authCa.publicKey) && signCa.verify(signCa.publicKey)).toBe(true);
    expect(authCa.ca && signCa.ca).toBe(true);
    expect(auth.ca || sign.ca).toBe(false);
    for (const c of [auth, sign, authCa, signCa]) {
      expect(hex(c.raw.subarray(0, 2))).toBe('3082');
      expect(hex(c.raw)).toContain('06092A864886F70D01010B0500'); // sha256WithRSAEncryption
    }
    expect(hex(sign.raw)).toContain('551D0F0101FF04040302' + '06C0'); // keyUsage critical: digitalSignature, nonRepudiation
    expect(hex(auth.raw)).toContain('551D0F0101FF04040302' + '0780'); // keyUsage critical: digitalSignature
    expect(auth.subject).toMatch(/^C=JP\nCN=\d{20}$/);
    // the same through @peculiar/x509: critical key usages and the JPKI test-environment policies
    const [pAuth, pSign] = [new x509.X509Certificate(p.certificates.auth), new x509.X509Certificate(p.certificates.sign!)];
    const usage = (c: x509.X509Certificate) => c.getExtension(x509.KeyUsagesExtension)!;
    expect([usage(pAuth).critical, usage(pAuth).usages]).toEqual([true, x509.KeyUsageFlags.digitalSignature]);
    expect([usage(pSign).critical, usage(pSign).usages]).toEqual([true, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation]);
    expect(pSign.getExtension(x509.CertificatePolicyExtension)!.policies).toEqual(['1.2.392.200149.8.5.1.0.20']);
    expect(pAuth.getExtension(x509.CertificatePolicyExtension)!.policies).toEqual(['1.2.392.200149.8.5.1.2.30']);
    expect(pAuth.signatureAlgorithm).toMatchObject({ name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } });
    expect(authCa.subject).toContain('TEST ONLY');
    // the card's auth key matches its certificate
    expect(auth.publicKey.export({ format: 'jwk' }).n).toBe(createPublicKey(p.keys.auth).export({ format: 'jwk' }).n);
    expect(sign.publicKey.export({ format: 'jwk' }).n).toBe(createPublicKey(p.keys.sign!).export({ format: 'jwk' }).n);
  });

  it('validity runs from the creation time to the end of the expiry day in Japan', () => {
    const p = P('adult');
    const auth = der(p.certificates.auth);
    expect(new Date(auth.validFrom).getTime()).toBe(new Date(p.createdAt).getTime());
    expect(new Date(auth.validTo).toISOString()).toBe(new Date(`${p.card.expiry}T14:59:59Z`).toISOString());
  });

  it('the holder attributes parse back from the sign certificate subjectAltName; the auth certificate has none', () => {
    const p = P('adult');
    const alt = jpkiAltNames(p.certificates.sign!);
    expect(alt.get(JPKI_SAN.name)).toBe(p.holder.name);
    expect(alt.get(JPKI_SAN.address)).toBe(p.holder.address);
    expect(alt.get(JPKI_SAN.sex)).toBe(p.holder.sex);
    expect(alt.get(JPKI_SAN.birthDate)).toBe(`3${p.holder.birthDate.replaceAll('-', '')}`); // 昭和 = 3
    expect(alt.get(JPKI_SAN.nameAlt)).toBe(p.holder.nameAlt);
    expect(alt.get(JPKI_SAN.addressAlt)).toBe(p.holder.addressAlt);
    expect([...alt.keys()]).toEqual([JPKI_SAN.name, JPKI_SAN.birthDate, JPKI_SAN.sex, JPKI_SAN.address, JPKI_SAN.nameAlt, JPKI_SAN.addressAlt]);
    expect(jpkiAltNames(p.certificates.auth).size).toBe(0);
  });
});

/** What a client does: take the issuer key from the CVC (checked against the root), verify each record. */
function clientCheck(p: Profile): Record<string, boolean> {
  const f = deriveFiles(p);
  const cvc = objectsOf(f.text.get(4)!);
  const body = cvc.find((o) => o.tag === 0x5f4e)!.value;
  const cvcOk = verify('sha256', body, createPublicKey(p.issuer.rootPublicKey), cvc.find((o) => o.tag === 0x5f37)!.value);
  const issuer: KeyObject = publicKeyFromCard(body.subarray(32));
  const before = (objects: Tlv[], tag: number) => {
    const i = objects.findIndex((o) => o.tag === tag);
    return { tbs: Buffer.concat(objects.slice(0, i).map((o) => o.raw)), sig: objects[i].value };
  };
  const v = (file: Uint8Array, tag: number) => {
    const { tbs, sig } = before(objectsOf(file), tag);
    return verify('sha256', tbs, issuer, sig);
  };
  const face = objectsOf(f.face.get(2)!);
  const seg = (tags: number[]) => sha256(...tags.map((t) => face.find((o) => o.tag === t)!.raw));
  const digestInfo = Buffer.concat([fromHex('3071300D060960864801650304020105000460'), seg([0xdf22, 0xdf23, 0xdf24]), seg([0xdf25, 0xdf26]), seg([0xdf27])]);
  const faceSig = face.find((o) => o.tag === 0xdf28)!.value;
  let faceOk: boolean;
  try {
    faceOk = Buffer.compare(publicDecrypt({ key: issuer, padding: constants.RSA_PKCS1_PADDING }, faceSig), digestInfo) === 0;
  } catch {
    faceOk = false;
  }
  return {
    cvc: cvcOk,
    textIntegrity: v(f.text.get(3)!, 0xdf33),
    textApKey: v(f.text.get(7)!, 0xdf52),
    age: v(f.face.get(1)!, 0xdf13),
    myNumberImage: v(f.face.get(5)!, 0xdf43),
    face: faceOk,
  };
}

describe('issuer signatures', () => {
  it('verify over the served files with the issuer key from the CVC, and the CVC with the root key', () => {
    expect(clientCheck(P('adult'))).toEqual({ cvc: true, textIntegrity: true, textApKey: true, age: true, myNumberImage: true, face: true });
  });

  it('the exported TBS functions are exactly what is served and signed', () => {
    const p = P('adult');
    const f = deriveFiles(p);
    const issuer = createPublicKey(p.issuer.key);
    const served = (file: Uint8Array, tag: number) => {
      const o = objectsOf(file);
      return Buffer.concat(
        o
          .slice(
            0,
            o.findIndex((x) => x.tag === tag),
          )
          .map((x) => x.raw),
      );
    };
    expect(hex(textIntegrityTbs(p))).toBe(hex(served(f.text.get(3)!, 0xdf33)));
    expect(hex(textApKeyTbs(p))).toBe(hex(served(f.text.get(7)!, 0xdf52)));
    expect(hex(faceAgeTbs(p))).toBe(hex(served(f.face.get(1)!, 0xdf13)));
    expect(hex(myNumberImageTbs(p))).toBe(hex(served(f.face.get(5)!, 0xdf43)));
    // each profile signature is plain sha256WithRSAEncryption over its TBS, checked by node:crypto
    const signed: Array<[keyof Profile['issuer']['signatures'], Uint8Array]> = [
      ['textIntegrity', textIntegrityTbs(p)],
      ['textApKey', textApKeyTbs(p)],
      ['age', faceAgeTbs(p)],
      ['myNumberImage', myNumberImageTbs(p)],
    ];
    for (const [name, tbs] of signed) expect([name, verify('sha256', tbs, issuer, fromHex(p.issuer.signatures[name]))]).toEqual([name, true]);
    expect(verify('sha256', cvcTbs(p), createPublicKey(p.issuer.rootPublicKey), fromHex(p.issuer.cvcSignature))).toBe(true);
  });

  it('fail where they cover the holder name after the name is edited in the profile (a tampered card)', () => {
    const p = clone(P('adult'));
    p.holder.name = '山田　次郎';
    // name is in EF 0002 (DF32 of the text integrity record) and in the name image (DF25 of the face);
    // the age record, My Number image and the AP key do not cover it.
    expect(clientCheck(p)).toEqual({ cvc: true, textIntegrity: false, textApKey: true, age: true, myNumberImage: true, face: false });
  });

  it('fail where they cover the birth date, the My Number, or the photo', () => {
    const born = clone(P('adult'));
    born.holder.birthDate = '1980-01-02';
    expect(clientCheck(born)).toMatchObject({ textIntegrity: false, age: false, face: false, myNumberImage: true });
    const number = clone(P('adult'));
    number.holder.myNumber = '223456789012';
    expect(clientCheck(number)).toMatchObject({ textIntegrity: false, myNumberImage: false, age: true, face: true });
    const photo = clone(P('adult'));
    const jp2 = Buffer.from(photo.photoJp2, 'base64');
    jp2[jp2.length - 3] ^= 1;
    photo.photoJp2 = jp2.toString('base64');
    expect(clientCheck(photo)).toMatchObject({ face: false, textIntegrity: true, age: true });
  });
});
