/**
 * The declarative shapes the applets are made of: elementary files, key references and their access
 * rules. An applet (simulator/applets/*) is mostly a table of these.
 */
import type { KeyObject } from 'node:crypto';
import type { Pin } from '../pin/pin.ts';

/** Who may use a file or key: free, nobody, or anyone who verified one of the listed PINs in this DF. */
export type Access = 'free' | 'never' | { anyOf: Pin[] };

export interface BinaryEf {
  kind: 'binary';
  fid: number;
  data: Uint8Array;
  read: Access;
}

export interface RecordEf {
  kind: 'record';
  fid: number;
  records: Uint8Array[];
  read: Access;
}

/** A PIN or other verification key (IEF): target of VERIFY and CHANGE. */
export interface PinEf {
  kind: 'pin';
  fid: number;
  pin: Pin;
}

/** A private key (IEF): target of COMPUTE DIGITAL SIGNATURE or INTERNAL AUTHENTICATE. */
export interface KeyEf {
  kind: 'key';
  fid: number;
  key: KeyObject;
  /** Which command uses it. */
  use: 'sign' | 'internal-auth';
  /** Credential needed first. */
  access: Access;
  /** SW for INTERNAL AUTHENTICATE on a key that is not an internal-auth key (docs/card.md §5: 6982 JPKI, 6985 券面 APs). */
  internalAuthSw?: number;
  /** JPKI sign key: a signature clears the sign password's verified flag unless the profile keeps it. */
  clearsAfterSign?: Pin;
}

/** Selectable but unusable (e.g. JPKI 0009, 0016, MF 001E): every use answers with `sw`. */
export interface OpaqueEf {
  kind: 'opaque';
  fid: number;
  sw: number;
}

/** An EF that exists in the file map but answers SELECT with an error (e.g. the missing sign certificate). */
export interface AbsentEf {
  kind: 'absent';
  fid: number;
  selectSw: number;
}

export type Ef = BinaryEf | RecordEf | PinEf | KeyEf | OpaqueEf | AbsentEf;

export interface Applet {
  /** Short name used in traces: jpki, text, face, juki, common, isd. */
  name: string;
  aid: Uint8Array;
  efs: Map<number, Ef>;
  /** The AP's own signing key, used by 80 2A with P2 = 00 (券面 APs). */
  ownKey?: KeyEf;
  /** SW for 80 AE SET SESSION KEY in this AP (docs/card.md §7: 66F1 in common and face APs). */
  setSessionKeySw?: number;
  /** MF-like state in which GET DATA answers (the ISD). */
  mfState?: boolean;
}

export function efMap(...efs: Ef[]): Map<number, Ef> {
  return new Map(efs.map((e) => [e.fid, e]));
}
