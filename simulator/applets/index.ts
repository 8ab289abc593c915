/**
 * The applications on the card, one table each (docs/card.md §3). AIDs from docs/card.md §1.
 */
import type { KeyObject } from 'node:crypto';
import { fromHex } from '../apdu/codec.ts';
import { SW } from '../apdu/sw.ts';
import { type Access, type Applet, efMap, type KeyEf } from './model.ts';
import type { Pin, PinId } from '../pin/pin.ts';
import type { DerivedFiles } from '../profile/derived.ts';
import type { Behaviour } from '../profile/schema.ts';

export const AID = {
  jpki: fromHex('D392F000260100000001'),
  text: fromHex('D3921000310001010408'),
  face: fromHex('D3921000310001010402'),
  juki: fromHex('D3921000310001010401'),
  common: fromHex('D3921000310001010100'),
  isd: fromHex('A0000001510000'),
} as const;

export interface AppletKeys {
  auth: KeyObject;
  sign?: KeyObject;
  textAp: KeyObject;
  faceAp: KeyObject;
  common: KeyObject;
}

export type Pins = Record<PinId, Pin>;

function need(files: Map<number, Uint8Array>, fid: number, ap: string): Uint8Array {
  const data = files.get(fid);
  if (!data) throw new Error(`derived files lack ${ap} AP EF ${fid.toString(16).padStart(4, '0')}`);
  return data;
}

/** 公的個人認証AP (docs/card.md §3.1). */
export function jpkiApplet(f: DerivedFiles, keys: AppletKeys, p: Pins, b: Behaviour): Applet {
  const missing = parseInt(b.missingSignCertSw, 16);
  return {
    name: 'jpki',
    aid: AID.jpki,
    efs: efMap(
      f.jpki.signCert ? { kind: 'binary', fid: 0x0001, data: f.jpki.signCert, read: { anyOf: [p.sign] } } : { kind: 'absent', fid: 0x0001, selectSw: missing },
      { kind: 'binary', fid: 0x0002, data: f.jpki.signCa, read: 'free' },
      { kind: 'binary', fid: 0x0006, data: f.jpki.tokenInfo, read: 'free' },
      { kind: 'binary', fid: 0x0008, data: f.jpki.certAvailability, read: 'free' },
      // 0009: unknown, not readable with any user credential [1]
      { kind: 'binary', fid: 0x0009, data: new Uint8Array(16), read: 'never' },
      { kind: 'binary', fid: 0x000a, data: f.jpki.authCert, read: b.authCertNeedsPin ? { anyOf: [p.auth] } : 'free' },
      { kind: 'binary', fid: 0x000b, data: f.jpki.authCa, read: 'free' },
      // 0016: CA key reference for the proprietary 80 A2 terminal certificate check [1]
      { kind: 'opaque', fid: 0x0016, sw: SW.COMMAND_INCOMPATIBLE_WITH_FILE },
      { kind: 'key', fid: 0x0017, key: keys.auth, use: 'sign', access: { anyOf: [p.auth] }, internalAuthSw: SW.SECURITY_STATUS_NOT_SATISFIED },
      { kind: 'pin', fid: 0x0018, pin: p.auth },
      keys.sign
        ? {
            kind: 'key',
            fid: 0x001a,
            key: keys.sign,
            use: 'sign',
            access: { anyOf: [p.sign] },
            internalAuthSw: SW.SECURITY_STATUS_NOT_SATISFIED,
            clearsAfterSign: b.signKeepsVerified ? undefined : p.sign,
          }
        : { kind: 'absent', fid: 0x001a, selectSw: missing },
      { kind: 'pin', fid: 0x001b, pin: p.sign },
    ),
  };
}

/** 券面事項入力補助AP (docs/card.md §3.2, §4.4). */
export function textApplet(f: DerivedFiles, keys: AppletKeys, p: Pins): Applet {
  const any = { anyOf: [p.kenmen, p.textA, p.textB] };
  const own: KeyEf = { kind: 'key', fid: 0x0013, key: keys.textAp, use: 'sign', access: 'free', internalAuthSw: SW.CONDITIONS_NOT_SATISFIED };
  const bin = (fid: number, read: Access) => ({ kind: 'binary' as const, fid, data: need(f.text, fid, 'text'), read });
  return {
    name: 'text',
    aid: AID.text,
    ownKey: own,
    efs: efMap(
      bin(0x0001, { anyOf: [p.kenmen, p.textA] }),
      bin(0x0002, { anyOf: [p.kenmen, p.textB] }),
      bin(0x0003, any),
      bin(0x0004, 'free'),
      bin(0x0005, 'free'),
      bin(0x0006, any),
      bin(0x0007, any),
      bin(0x0008, 'free'),
      { kind: 'pin', fid: 0x0011, pin: p.kenmen },
      { kind: 'pin', fid: 0x0012, pin: p.textBlocked },
      own,
      { kind: 'pin', fid: 0x0014, pin: p.textA },
      { kind: 'pin', fid: 0x0015, pin: p.textB },
    ),
  };
}

/** 券面事項確認AP (docs/card.md §3.3, §4.4). */
export function faceApplet(f: DerivedFiles, keys: AppletKeys, p: Pins): Applet {
  const bin = (fid: number, read: Access) => ({ kind: 'binary' as const, fid, data: need(f.face, fid, 'face'), read });
  const ab = { anyOf: [p.faceA, p.faceB] };
  return {
    name: 'face',
    aid: AID.face,
    // The AP's own key has no EF in any source; it is reachable with 80 2A P2 = 00 only [1].
    ownKey: { kind: 'key', fid: 0, key: keys.faceAp, use: 'sign', access: 'free', internalAuthSw: SW.CONDITIONS_NOT_SATISFIED },
    setSessionKeySw: SW.SECURITY_ENVIRONMENT_FAULTY,
    efs: efMap(
      bin(0x0001, { anyOf: [p.faceBirth] }),
      bin(0x0002, ab),
      bin(0x0003, 'free'),
      bin(0x0004, 'free'),
      bin(0x0005, { anyOf: [p.faceA] }),
      bin(0x0006, ab),
      { kind: 'pin', fid: 0x0011, pin: p.faceBirth },
      { kind: 'pin', fid: 0x0012, pin: p.faceB },
      { kind: 'pin', fid: 0x0013, pin: p.faceA },
    ),
  };
}

/** 住基AP (docs/card.md §3.4). */
export function jukiApplet(f: DerivedFiles, p: Pins): Applet {
  return {
    name: 'juki',
    aid: AID.juki,
    efs: efMap({ kind: 'record', fid: 0x0002, records: f.jukiRecords.get(0x0002) ?? [], read: 'free' }, { kind: 'pin', fid: 0x001c, pin: p.juki }),
  };
}

/** 共通カードAP (docs/card.md §3.5). */
export function commonApplet(f: DerivedFiles, keys: AppletKeys, p: Pins): Applet {
  return {
    name: 'common',
    aid: AID.common,
    setSessionKeySw: SW.SECURITY_ENVIRONMENT_FAULTY,
    efs: efMap(
      { kind: 'record', fid: 0x0001, records: f.commonRecords.get(0x0001) ?? [], read: 'free' },
      { kind: 'record', fid: 0x0002, records: f.commonRecords.get(0x0002) ?? [], read: 'free' },
      { kind: 'key', fid: 0x0019, key: keys.common, use: 'internal-auth', access: 'free', internalAuthSw: SW.CONDITIONS_NOT_SATISFIED },
      { kind: 'pin', fid: 0x001c, pin: p.common },
    ),
  };
}

/** GlobalPlatform ISD: selecting it restores the power-on MF state (docs/card.md §1, §3.6), MF files included. */
export function isdApplet(): Applet {
  return { name: 'isd', aid: AID.isd, efs: mfFiles().efs, mfState: true };
}

/** What is reachable with no DF selected (docs/card.md §1 notes): only 001E, selectable but unreadable. */
export function mfFiles(): Applet {
  return { name: 'mf', aid: new Uint8Array(0), mfState: true, efs: efMap({ kind: 'opaque', fid: 0x001e, sw: SW.COMMAND_INCOMPATIBLE_WITH_FILE }) };
}
