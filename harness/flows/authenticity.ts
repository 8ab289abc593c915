/**
 * A client's authenticity check of the 券面 APs, done the way a kiosk does it, from the card's bytes
 * alone plus one trust anchor (the CVC root public key):
 *
 * 1. EF 0004 (CVC, free): the root's signature over the 5F4E body verifies with the trust anchor,
 *    and the body (16-byte root key ID, 16-byte issuer key ID, 90/91 key) yields the issuer's key.
 * 2. 券面事項入力補助AP: DF31 = SHA-256 of EF 0001 as read, DF32 = SHA-256 of EF 0002's objects
 *    without DF21, and the issuer's DF33 signature over DF31 ‖ DF32 (docs/card.md §3.2).
 * 3. 券面事項確認AP: the issuer's DF28 signature over the three segment hashes of the card face
 *    (docs/card.md §3.3).
 *
 * Everything here (TLV reader, DigestInfo, key decoding) is the flows' own, after soltia48/myna-card
 * [1] as the card reference describes it, not the simulator's writer. On a simulated card the trust
 * anchor is the profile's `issuer.rootPublicKey`; a tampered profile (holder data edited after
 * generation) fails here, as a forged card must.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { cmd } from './apdu.ts';
import { AID, EF, publicKeyFromCard, sha256, sha256DigestInfo, verifiesDigestInfo } from './card-ref.ts';
import { readConstructed } from './tlv.ts';
import type { Flow, FlowSession } from './spec-flows.ts';

/** Reads and checks the CVC of the current AP; returns the certified issuer key. */
async function issuerKeyFromCvc(s: FlowSession, anchor: KeyObject | undefined): Promise<KeyObject> {
  await s.selectEf(EF.text.cvc); // same FID in both 券面 APs
  const { outer, byTag } = readConstructed(await s.readBerObject());
  s.require('EF 0004 is a CVC (7F 21)', outer.tag === 0x7f21, outer.tag.toString(16));
  const body = byTag.get(0x5f4e)?.value;
  const sig = byTag.get(0x5f37)?.value;
  s.require('CVC has a 5F4E body and a 5F37 signature', !!body && !!sig);
  if (anchor) s.check('CVC signature verifies with the trust anchor', verifiesDigestInfo(anchor, sha256DigestInfo(sha256(body!)), sig!));
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
      await s.selectAp(AID.text);
      const issuer = await issuerKeyFromCvc(s, anchor);
      await s.selectEf(EF.text.pin);
      await s.verify(inputs.kenmenPin);
      await s.selectEf(EF.text.myNumber);
      const ef1 = await s.ok(cmd.readBinary(0, 0x11));
      const myNumber = Buffer.from(ef1.subarray(3, 15)).toString('latin1');
      await s.selectEf(EF.text.basic4);
      const basic4 = readConstructed(await s.readBerObject()).members.filter((t) => t.tag !== 0xdf21);
      await s.selectEf(EF.text.integrity);
      const rec = readConstructed(await s.readBerObject()).byTag;
      const [df31, df32, df33] = [rec.get(0xdf31), rec.get(0xdf32), rec.get(0xdf33)];
      s.require('integrity record has DF31, DF32, DF33', !!df31 && !!df32 && !!df33);
      s.check('DF31 is the SHA-256 of EF 0001', Buffer.compare(df31!.value, sha256(ef1)) === 0);
      s.check('DF32 is the SHA-256 of EF 0002 without DF21', Buffer.compare(df32!.value, sha256(...basic4.map((t) => t.raw))) === 0);
      s.check('DF33 (issuer signature over DF31 ‖ DF32) verifies', verifiesDigestInfo(issuer, sha256DigestInfo(sha256(df31!.raw, df32!.raw)), df33!.value));

      await s.selectAp(AID.face);
      const faceIssuer = await issuerKeyFromCvc(s, anchor);
      await s.selectEf(EF.face.verificationA);
      await s.verify(myNumber);
      await s.selectEf(EF.face.cardFace);
      const face = readConstructed(await s.readBerObject()).byTag;
      const seg = (tags: number[]) => sha256(...tags.map((t) => face.get(t)?.raw ?? new Uint8Array()));
      const df28 = face.get(0xdf28);
      s.require('card face has a DF28 signature', !!df28);
      const digests = sha256DigestInfo(Buffer.concat([seg([0xdf22, 0xdf23, 0xdf24]), seg([0xdf25, 0xdf26]), seg([0xdf27])]));
      s.check('DF28 (issuer signature over the three card-face segments) verifies', verifiesDigestInfo(faceIssuer, digests, df28!.value));
    },
  };
}
