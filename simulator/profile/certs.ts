/**
 * X.509 certificates of the test JPKI hierarchy (docs/card.md §3.1), built with @peculiar/asn1-x509 and signed
 * with node:crypto (sha256WithRSAEncryption). (@peculiar/x509 would need a Reflect-metadata polyfill
 * that is not a dependency; the ASN.1 layer it is built on needs none.)
 *
 * What the real certificates carry, and what these do:
 * - Sign certificate: subjectAltName with six otherName entries, UTF8String values, in the order
 *   .1 name, .4 birth date, .3 sex, .5 address, .2 name substitute-character positions,
 *   .6 address substitute-character positions (arc 1.2.392.200149.8.5.5) [1] (openssl dump of a real
 *   certificate in a Qiita note; jpki/myna _go/libmyna/jpki_ap.go). Birth date is `E` + Gregorian
 *   `YYYYMMDD`, E = era digit 1 明治 … 5 令和 [1] (pki.world-tls.com, and a JPKI-TEST card value
 *   `419900102` quoted in a public test fixture); sex is 1 male, 2 female, 3 unknown [1].
 *   keyUsage critical digitalSignature + nonRepudiation (`03 02 06 C0`) [1].
 * - Auth certificate: no personal data at all (no subjectAltName) [1] (the JPKI client shows the
 *   basic 4 attributes for the sign certificate only); keyUsage critical digitalSignature [1].
 * - Both: issuerAltName DirName C=JP, O=<issuer service> [1] (real: O=公的個人認証サービス; here marked
 *   TEST), certificatePolicies critical [I] with the JPKI *test environment* policy: sign
 *   1.2.392.200149.8.5.1.0.20 [1] (a JPKI-TEST card's sign certificate differs from production
 *   .1.1.20 only there); auth 1.2.392.200149.8.5.1.2.30 [I] (same step from production .1.3.30).
 * - CA certificates: self-signed, basicConstraints CA critical, keyUsage keyCertSign + cRLSign.
 */
import { createHash, createPublicKey, sign as rsaSign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as a from '@peculiar/asn1-x509';
import { eraYymmdd, toEra } from './era.ts';
import { derTlv, readTlv, utf8 } from './tlv.ts';

export const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

/** The JPKI personal-data otherName OIDs (arc 1.2.392.200149.8.5.5). */
export const JPKI_SAN = {
  name: '1.2.392.200149.8.5.5.1',
  nameAlt: '1.2.392.200149.8.5.5.2',
  sex: '1.2.392.200149.8.5.5.3',
  birthDate: '1.2.392.200149.8.5.5.4',
  address: '1.2.392.200149.8.5.5.5',
  addressAlt: '1.2.392.200149.8.5.5.6',
} as const;

export const POLICY = {
  /** JPKI test environment, signature certificates [1]. Production: 1.2.392.200149.8.5.1.1.20. */
  sign: '1.2.392.200149.8.5.1.0.20',
  /** By analogy with the sign policy [I]. Production: 1.2.392.200149.8.5.1.3.30. */
  auth: '1.2.392.200149.8.5.1.2.30',
} as const;

const ATTR: Record<string, string> = { C: '2.5.4.6', O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3', L: '2.5.4.7' };

/** A distinguished name as [attribute, value] pairs in DER order (most significant first: C, O, …, CN). */
export type Dn = Array<[keyof typeof ATTR | string, string]>;

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function toName(dn: Dn): a.Name {
  return new a.Name(
    dn.map(([k, v]) => {
      const value = PRINTABLE.test(v) ? new a.AttributeValue({ printableString: v }) : new a.AttributeValue({ utf8String: v });
      return new a.RelativeDistinguishedName([new a.AttributeTypeAndValue({ type: ATTR[k] ?? k, value })]);
    }),
  );
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(key: KeyObject): Uint8Array {
  const spki = AsnConvert.parse(spkiDer(key), a.SubjectPublicKeyInfo);
  return new Uint8Array(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest());
}

/** SubjectPublicKeyInfo DER of a key (private keys give their public half). */
const spkiDer = (key: KeyObject): Buffer => (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });

const ext = (extnID: string, critical: boolean, value: unknown): a.Extension =>
  new a.Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

const ab = (u: Uint8Array): ArrayBuffer => u.slice().buffer;

export interface CertificateSpec {
  /** Serial number bytes, positive (first byte 01..7F). */
  serial: Uint8Array;
  subject: Dn;
  issuer: Dn;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  /** The issuer's private key (signature); its public half (authorityKeyIdentifier), may be the same private key. */
  signingKey: KeyObject;
  issuerPublicKey: KeyObject;
  extensions: a.Extension[];
}

export function buildCertificate(s: CertificateSpec): Uint8Array {
  const algorithm = new a.AlgorithmIdentifier({ algorithm: SHA256_WITH_RSA, parameters: null });
  const tbs = new a.TBSCertificate({
    version: a.Version.v3,
    serialNumber: ab(s.serial),
    signature: algorithm,
    issuer: toName(s.issuer),
    validity: new a.Validity({ notBefore: s.notBefore, notAfter: s.notAfter }),
    subject: toName(s.subject),
    subjectPublicKeyInfo: AsnConvert.parse(spkiDer(s.publicKey), a.SubjectPublicKeyInfo),
    extensions: new a.Extensions([
      ext(a.id_ce_subjectKeyIdentifier, false, new a.SubjectKeyIdentifier(keyIdentifier(s.publicKey))),
      ext(a.id_ce_authorityKeyIdentifier, false, new a.AuthorityKeyIdentifier({ keyIdentifier: new a.KeyIdentifier(keyIdentifier(s.issuerPublicKey)) })),
      ...s.extensions,
    ]),
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = rsaSign('sha256', tbsDer, s.signingKey);
  return new Uint8Array(
    AsnConvert.serialize(new a.Certificate({ tbsCertificate: tbs, signatureAlgorithm: algorithm, signatureValue: ab(new Uint8Array(signature)) })),
  );
}

export const caExtensions = (): a.Extension[] => [
  ext(a.id_ce_basicConstraints, true, new a.BasicConstraints({ cA: true })),
  ext(a.id_ce_keyUsage, true, new a.KeyUsage(a.KeyUsageFlags.keyCertSign | a.KeyUsageFlags.cRLSign)),
];

export interface JpkiHolder {
  name: string;
  nameAlt?: string;
  address: string;
  addressAlt?: string;
  birthDate: string;
  sex: '0' | '1' | '2' | '9';
}

/** `E` + YYYYMMDD for the certificate (E = era digit, 0 when unknown). */
export function certificateBirthDate(isoDate: string): string {
  return String(toEra(isoDate)?.era.digit ?? 0) + isoDate.replaceAll('-', '');
}

/** JIS X 0303 sex code of the profile → the certificate's 1 male / 2 female / 3 unknown [1]. */
export const certificateSex = (sex: JpkiHolder['sex']): string => (sex === '1' || sex === '2' ? sex : '3');

/** '0' per character: "no substitute character at this position" (the value on a typical card) [1]. */
export const noSubstitutes = (s: string): string => '0'.repeat([...s].length);

/** The sign certificate's subjectAltName, in the order of a real certificate. */
export function jpkiSubjectAltName(h: JpkiHolder): a.Extension {
  eraYymmdd(h.birthDate); // throws on dates before 明治
  const entries: Array<[string, string]> = [
    [JPKI_SAN.name, h.name],
    [JPKI_SAN.birthDate, certificateBirthDate(h.birthDate)],
    [JPKI_SAN.sex, certificateSex(h.sex)],
    [JPKI_SAN.address, h.address],
    [JPKI_SAN.nameAlt, h.nameAlt ?? noSubstitutes(h.name)],
    [JPKI_SAN.addressAlt, h.addressAlt ?? noSubstitutes(h.address)],
  ];
  return ext(
    a.id_ce_subjectAltName,
    false,
    new a.SubjectAlternativeName(entries.map(([typeId, v]) => new a.GeneralName({ otherName: new a.OtherName({ typeId, value: ab(derTlv(0x0c, utf8(v))) }) }))),
  );
}

export const keyUsage = (flags: number): a.Extension => ext(a.id_ce_keyUsage, true, new a.KeyUsage(flags));

export const certificatePolicies = (oid: string): a.Extension =>
  ext(a.id_ce_certificatePolicies, true, new a.CertificatePolicies([new a.PolicyInformation({ policyIdentifier: oid })]));

export const issuerAltName = (dn: Dn): a.Extension =>
  ext(a.id_ce_issuerAltName, false, new a.IssueAlternativeName([new a.GeneralName({ directoryName: toName(dn) })]));

/** Reads the JPKI otherName entries of a certificate's subjectAltName: OID → string. Empty if none. */
export function readJpkiAltNames(der: Uint8Array): Map<string, string> {
  const cert = AsnConvert.parse(der, a.Certificate);
  const out = new Map<string, string>();
  const san = cert.tbsCertificate.extensions?.find((e) => e.extnID === a.id_ce_subjectAltName);
  if (!san) return out;
  for (const g of AsnConvert.parse(san.extnValue.buffer, a.SubjectAlternativeName)) {
    if (!g.otherName) continue;
    const v = readTlv(new Uint8Array(g.otherName.value));
    out.set(g.otherName.typeId, Buffer.from(v.value).toString(v.tag === 0x0c ? 'utf8' : 'latin1'));
  }
  return out;
}
