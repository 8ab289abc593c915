/**
 * The file contents of a card, derived from its profile (simulator/profile/files.ts builds them).
 * The card core (simulator/card, simulator/applets) consumes this shape; it never parses the profile's
 * holder data itself.
 */
export interface DerivedFiles {
  jpki: {
    /** EF 0006, 160 bytes (CK_TOKEN_INFO layout of docs/card.md §3.1.1). */
    tokenInfo: Uint8Array;
    /** EF 0008, 3 bytes (8F 8F 00, or 00 8F 00 without a sign certificate). */
    certAvailability: Uint8Array;
    authCert: Uint8Array; // EF 000A, DER
    signCert?: Uint8Array; // EF 0001, DER; absent on cards without a signature certificate
    authCa: Uint8Array; // EF 000B, DER
    signCa: Uint8Array; // EF 0002, DER
  };
  /** 券面事項入力補助AP EFs by FID: 0001..0008 (physical contents, filler included). */
  text: Map<number, Uint8Array>;
  /** 券面事項確認AP EFs by FID: 0001..0006. */
  face: Map<number, Uint8Array>;
  /** 住基AP record EF 0002 records. */
  jukiRecords: Map<number, Uint8Array[]>;
  /** 共通カードAP record EFs 0001, 0002. */
  commonRecords: Map<number, Uint8Array[]>;
  /** Values of the verification keys (ASCII strings as a client sends them). */
  verification: {
    /** 照合番号A = My Number, 12 digits. */
    a: string;
    /** 照合番号B = era YYMMDD + expiry YYYY + security code, 14 digits. */
    b: string;
    /** 券面事項確認AP birth-date key = era YYMMDD, 6 digits. */
    birth: string;
  };
  /** MF-level GET DATA objects by tag (docs/card.md §3.6), e.g. 0x5F51 → ATR without 3B. */
  getData: Map<number, Uint8Array>;
}
