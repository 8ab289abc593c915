/**
 * A client's authenticity check of the 券面 APs, done the way a kiosk does it, from the card's bytes
 * alone plus one trust anchor (the CVC root public key):
 *
 * 1. EF 0004 (CVC, free): the root's signature over the 5F4E body verifies with the trust anchor,
 *    and the body yields the issuer's public key.
 * 2. 券面事項入力補助AP: DF31 = SHA-256 of EF 0001 as read, DF32 = SHA-256 of EF 0002's objects
 *    without DF21, and the issuer's DF33 signature over DF31 ‖ DF32.
 * 3. 券面事項確認AP: the issuer's DF28 signature over the three segment hashes of the card face.
 *
 * What is signed is documented in simulator/profile/files.ts (after soltia48/myna-card [1]). On a
 * simulated card the trust anchor is the profile's `issuer.rootPublicKey`; a tampered profile (holder
 * data edited after generation) fails here, as a forged card must.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { concat, readAll, readTlv, type Tlv } from '../../simulator/profile/tlv.ts';
import { publicKeyFromCard, sha256DigestInfo, verifyDigestInfo } from '../../simulator/profile/files.ts';
import { AID_HEX, type Flow, type FlowSession } from './spec-flows.ts';

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};


function children(obj: Uint8Array): Map<number, Tlv> {
  const outer = readTlv(obj);
  return new Map(readAll(outer.value).map((t) => [t.tag, t]));
}

/** Reads and checks the CVC of the current AP; returns the certified issuer key. */
async function issuerKeyFromCvc(s: FlowSession, anchor: KeyObject | undefined): Promise<KeyObject> {
  await s.selectEf('0004');
  const cvc = readTlv(await s.readBerObject());
  s.require('EF 0004 is a CVC (7F 21)', cvc.tag === 0x7f21, cvc.tag.toString(16));
  const parts = new Map(readAll(cvc.value).map((t) => [t.tag, t.value]));
  const body = parts.get(0x5f4e);
  const sig = parts.get(0x5f37);
  s.require('CVC has a 5F4E body and a 5F37 signature', !!body && !!sig);
  if (anchor) s.check('CVC signature verifies with the trust anchor', verifyDigestInfo(anchor, sha256DigestInfo(sha256(body!)), sig!));
  else s.check('CVC not checked: no trust anchor given', true);
  return publicKeyFromCard(body!.subarray(32));
}

export function authenticityFlow(anchorPem?: string): Flow {
  const anchor = anchorPem ? createPublicKey(anchorPem) : undefined;
  return {
    id: 'auth-check',
    title: 'authenticity of the 券面 APs: CVC, integrity record, card-face signature',
    destructive: false,
    async run(s, inputs) {
      await s.selectAp(AID_HEX.text);
      const issuer = await issuerKeyFromCvc(s, anchor);
      await s.selectEf('0011');
      await s.verify(inputs.kenmenPin);
      await s.selectEf('0001');
      const ef1 = await s.ok('00B0000011');
      const myNumber = Buffer.from(ef1.subarray(3, 15)).toString('latin1');
      await s.selectEf('0002');
      const basic4 = readAll(readTlv(await s.readBerObject()).value).filter((t) => t.tag !== 0xdf21);
      await s.selectEf('0003');
      const rec = children(await s.readBerObject());
      const df31 = rec.get(0xdf31);
      const df32 = rec.get(0xdf32);
      const df33 = rec.get(0xdf33);
      s.require('integrity record has DF31, DF32, DF33', !!df31 && !!df32 && !!df33);
      s.check('DF31 is the SHA-256 of EF 0001', Buffer.compare(df31!.value, sha256(ef1)) === 0);
      s.check('DF32 is the SHA-256 of EF 0002 without DF21', Buffer.compare(df32!.value, sha256(...basic4.map((t) => t.raw))) === 0);
      s.check('DF33 (issuer signature over DF31 ‖ DF32) verifies', verifyDigestInfo(issuer, sha256DigestInfo(sha256(df31!.raw, df32!.raw)), df33!.value));

      await s.selectAp(AID_HEX.face);
      const faceIssuer = await issuerKeyFromCvc(s, anchor);
      await s.selectEf('0013');
      await s.verify(myNumber);
      await s.selectEf('0002');
      const face = children(await s.readBerObject());
      const seg = (tags: number[]) => sha256(...tags.map((t) => face.get(t)?.raw ?? new Uint8Array()));
      const digest = concat(seg([0xdf22, 0xdf23, 0xdf24]), seg([0xdf25, 0xdf26]), seg([0xdf27]));
      const df28 = face.get(0xdf28);
      s.require('card face has a DF28 signature', !!df28);
      s.check('DF28 (issuer signature over the three card-face segments) verifies', verifyDigestInfo(faceIssuer, sha256DigestInfo(digest), df28!.value));
    },
  };
}
