/**
 * The example client flows of the spec (section 11) as runnable checks. Each flow talks to an
 * ApduChannel, so the same flow runs in process, through PC/SC against the simulator, or (the
 * non-destructive ones) against a physical card.
 *
 * A flow records every exchange (PIN data redacted) and a list of checks with their outcome.
 */
import { verify, X509Certificate } from 'node:crypto';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { toHex } from '../../simulator/apdu/codec.ts';
import { swHex, swName } from '../../simulator/apdu/sw.ts';
import { commandName, redactCommand } from '../../simulator/apdu/trace.ts';
import { cmd, split } from './apdu.ts';
import { AID, EF, isValidMyNumber, sha256, sha256DigestInfo } from './card-ref.ts';
import { readConstructed, readHeader } from './tlv.ts';

/** What a flow needs to know about the card (the PIN values a holder would type). */
export interface FlowInputs {
  authPin: string;
  signPin: string;
  kenmenPin: string;
}

export interface Check {
  what: string;
  ok: boolean;
  detail?: string;
}

export interface Exchange {
  command: string; // redacted hex
  name: string;
  response: string; // data length + SW
  sw: number;
  ms: number;
}

export interface FlowResult {
  id: string;
  title: string;
  ok: boolean;
  checks: Check[];
  exchanges: Exchange[];
  error?: string;
}

export interface Flow {
  id: string;
  title: string;
  /** Spends PIN tries or changes the card: never run it on a physical card. */
  destructive: boolean;
  run(s: FlowSession, inputs: FlowInputs): Promise<void>;
}

class FlowFailure extends Error {}

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const text = (u: Uint8Array | undefined, encoding: BufferEncoding): string => Buffer.from(u ?? []).toString(encoding);

/** Records exchanges and checks for one flow. */
export class FlowSession {
  readonly checks: Check[] = [];
  readonly exchanges: Exchange[] = [];
  constructor(
    private readonly channel: ApduChannel,
    private readonly onExchange?: (e: Exchange) => void,
  ) {}

  /** Sends a command; with `expectSw`, a different SW fails the flow at once. */
  async send(command: Uint8Array, expectSw?: number): Promise<{ data: Uint8Array; sw: number }> {
    const t0 = performance.now();
    const raw = await this.channel.transmit(command);
    const ms = performance.now() - t0;
    if (raw.length < 2) {
      this.check(`${commandName(command)} answers with a status word`, false, `got ${raw.length} bytes`);
      throw new FlowFailure('no status word');
    }
    const r = split(raw);
    const e: Exchange = {
      command: redactCommand(command),
      name: commandName(command),
      response: `${r.data.length ? `${r.data.length} bytes ` : ''}${swHex(r.sw)} (${swName(r.sw)})`,
      sw: r.sw,
      ms,
    };
    this.exchanges.push(e);
    this.onExchange?.(e);
    if (expectSw !== undefined && r.sw !== expectSw) {
      this.check(`${e.name} ${e.command} answers ${swHex(expectSw)}`, false, `answered ${swHex(r.sw)} (${swName(r.sw)})`);
      throw new FlowFailure(`unexpected status word ${swHex(r.sw)}`);
    }
    return r;
  }

  async ok(command: Uint8Array): Promise<Uint8Array> {
    return (await this.send(command, 0x9000)).data;
  }

  check(what: string, ok: boolean, detail?: string): boolean {
    this.checks.push({ what, ok, detail });
    return ok;
  }

  /** Like check, but stops the flow when it fails. */
  require(what: string, ok: boolean, detail?: string): void {
    if (!this.check(what, ok, detail)) throw new FlowFailure(what);
  }

  selectAp(aid: Uint8Array): Promise<Uint8Array> {
    return this.ok(cmd.selectAp(aid));
  }

  selectEf(fid: number): Promise<Uint8Array> {
    return this.ok(cmd.selectEf(fid));
  }

  /** READ BINARY of `n` bytes at `offset`, requiring 90 00. */
  read(offset: number, n: number): Promise<Uint8Array> {
    return this.ok(cmd.readBinary(offset, n));
  }

  verify(value: string, expectSw = 0x9000): Promise<{ data: Uint8Array; sw: number }> {
    return this.send(cmd.verify(ascii(value)), expectSw);
  }

  /** VERIFY query on the selected PIN: requires `63 Cx` with a try left; returns the tries left. */
  async triesLeft(what: string): Promise<number> {
    const q = await this.send(cmd.verify());
    this.require(`${what} query answers 63 Cx`, q.sw >> 4 === 0x63c, `${q.sw & 0x0f} tries left`);
    this.require(`${what} is not locked`, (q.sw & 0x0f) > 0);
    return q.sw & 0x0f;
  }

  /** `80 2A 00 80` with the SHA-256 DigestInfo of `message`, on the selected key (docs/card.md §6). */
  signSha256(message: Uint8Array): Promise<Uint8Array> {
    return this.ok(cmd.signDigestInfo(digestInfo(message)));
  }

  /** OpenSC's way to read a certificate EF: 4-byte header, then 256-byte chunks, the last exact. */
  async readCertificate(): Promise<Uint8Array> {
    const head = await this.read(0, 4);
    this.require('certificate starts with 30 82', head[0] === 0x30 && head[1] === 0x82, toHex(head, ' '));
    const size = ((head[2] << 8) | head[3]) + 4;
    return this.readRest(head.subarray(0, 0), 0, size);
  }

  /** jpki/myna's way for BER objects: 7 bytes, the object's length from its header, then the rest. */
  async readBerObject(): Promise<Uint8Array> {
    const head = await this.read(0, 7);
    let h: ReturnType<typeof readHeader>;
    try {
      h = readHeader(head);
    } catch (e) {
      this.require('the EF starts with a BER-TLV header', false, (e as Error).message);
      throw e;
    }
    const total = h.headerLength + h.length;
    return this.readRest(head.subarray(0, Math.min(head.length, total)), head.length, total);
  }

  /** Reads `total` bytes: `have` already read, the rest from `from` in chunks of up to 256, each exact. */
  private async readRest(have: Uint8Array, from: number, total: number): Promise<Uint8Array> {
    const out = new Uint8Array(total);
    out.set(have);
    for (let off = from; off < total; off += 256) {
      const n = Math.min(256, total - off);
      const chunk = await this.read(off, n);
      this.require(`READ BINARY at ${off} returns ${n} bytes`, chunk.length === n, `${chunk.length} bytes`);
      out.set(chunk, off);
    }
    return out;
  }
}

const digestInfo = (message: Uint8Array): Uint8Array => sha256DigestInfo(sha256(message));

export interface Basic4 {
  name: string;
  address: string;
  birth: string;
  sex: string;
  /** The DF21 offsets (from the first byte of the file) and where DF22..DF25 really start. */
  offsets: { table: number[]; actual: number[] };
}

/** Parses `FF 20 { DF 21 offsets, DF 22 name, DF 23 address, DF 24 birth, DF 25 sex }` (docs/card.md §3.2.1). */
export function parseBasic4(obj: Uint8Array): Basic4 {
  const { outer, byTag } = readConstructed(obj);
  if (outer.tag !== 0xff20) throw new RangeError(`basic 4 attributes: outer tag ${outer.tag.toString(16).toUpperCase()}, expected FF20`);
  const table = byTag.get(0xdf21)?.value ?? new Uint8Array();
  const fields = [0xdf22, 0xdf23, 0xdf24, 0xdf25];
  return {
    name: text(byTag.get(0xdf22)?.value, 'utf8'),
    address: text(byTag.get(0xdf23)?.value, 'utf8'),
    birth: text(byTag.get(0xdf24)?.value, 'latin1'),
    sex: text(byTag.get(0xdf25)?.value, 'latin1'),
    offsets: {
      table: fields.map((_, i) => (table[2 * i] << 8) | table[2 * i + 1]),
      actual: fields.map((t) => byTag.get(t)?.offset ?? -1),
    },
  };
}

/** Reads the 12 digits of the My Number EF (`FF 10 0C` + digits + filler) after a VERIFY. */
async function readMyNumber(s: FlowSession): Promise<string> {
  await s.selectEf(EF.text.myNumber);
  const mn = await s.read(0, 0x11);
  s.require('My Number EF starts FF 10 0C', mn[0] === 0xff && mn[1] === 0x10 && mn[2] === 0x0c, toHex(mn.subarray(0, 3), ' '));
  return text(mn.subarray(3, 15), 'latin1');
}

/** A foreign AID (a payment application) that OpenSC's other drivers probe with (docs/card.md §11.6). */
const FOREIGN_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10);

export const SPEC_FLOWS: Flow[] = [
  {
    id: '11.1',
    title: 'auth certificate, auth PIN, signature with the auth key (web login)',
    destructive: false,
    async run(s, inputs) {
      await s.selectAp(AID.jpki);
      await s.selectEf(EF.jpki.tokenInfo);
      const label = text(await s.read(0, 0x20), 'latin1').trimEnd();
      s.check('token label is a JPKI token', label.startsWith('JPKIAP'), label);
      await s.selectEf(EF.jpki.authCert);
      const cert = new X509Certificate(await s.readCertificate());
      s.check('auth certificate parses', true, cert.subject.replaceAll('\n', ', '));
      await s.selectEf(EF.jpki.authPin);
      await s.triesLeft('auth PIN');
      await s.verify(inputs.authPin);
      await s.selectEf(EF.jpki.authKey);
      const challenge = Buffer.from(`myna-hil challenge ${Date.now()}`);
      const sig = await s.signSha256(challenge);
      s.check('signature is 256 bytes', sig.length === 256, `${sig.length}`);
      s.check('signature verifies with the auth certificate', verify('sha256', challenge, cert.publicKey, sig));
    },
  },
  {
    id: '11.2',
    title: 'sign password, signature certificate, signature with the sign key (e-Tax)',
    destructive: false,
    async run(s, inputs) {
      await s.selectAp(AID.jpki);
      const sel = await s.send(cmd.selectEf(EF.jpki.signCert));
      if (sel.sw === 0x6a82) {
        s.check('card has no signature certificate (minor or face-authentication card)', true);
        return;
      }
      const denied = await s.send(cmd.readBinary(0, 4));
      s.check('sign certificate is protected before VERIFY (69 82)', denied.sw === 0x6982, swHex(denied.sw));
      await s.selectEf(EF.jpki.signPin);
      await s.triesLeft('sign password');
      await s.verify(inputs.signPin);
      await s.selectEf(EF.jpki.signCert);
      const cert = new X509Certificate(await s.readCertificate());
      s.check('sign certificate parses', true, cert.subject.replaceAll('\n', ', '));
      await s.selectEf(EF.jpki.signKey);
      const attrs = Buffer.from('signedAttrs of a CMS SignedData');
      const sig = await s.signSha256(attrs);
      s.check('signature verifies with the sign certificate', verify('sha256', attrs, cert.publicKey, sig));
    },
  },
  {
    id: '11.3',
    title: 'My Number and the basic 4 attributes (券面事項入力補助AP)',
    destructive: false,
    async run(s, inputs) {
      await s.selectAp(AID.text);
      await s.selectEf(EF.text.pin);
      await s.verify(inputs.kenmenPin);
      const myNumber = await readMyNumber(s);
      s.check('My Number has a valid check digit', isValidMyNumber(myNumber));
      await s.selectEf(EF.text.basic4);
      const b4 = parseBasic4(await s.readBerObject());
      s.check('name is present', b4.name.length > 0);
      s.check('address is present', b4.address.length > 0);
      s.check('birth date is YYYYMMDD', /^\d{8}$/.test(b4.birth), b4.birth);
      s.check('sex is a JIS X 0303 code', /^[0129]$/.test(b4.sex), b4.sex);
      s.check(
        'DF21 offsets point at DF22..DF25',
        b4.offsets.table.join() === b4.offsets.actual.join(),
        `table ${b4.offsets.table} actual ${b4.offsets.actual}`,
      );
    },
  },
  {
    id: '11.5',
    title: 'card face with photo via 照合番号A (券面事項確認AP)',
    destructive: false,
    async run(s, inputs) {
      await s.selectAp(AID.text);
      await s.selectEf(EF.text.pin);
      await s.verify(inputs.kenmenPin);
      const myNumber = await readMyNumber(s);
      await s.selectAp(AID.face);
      await s.selectEf(EF.face.verificationA);
      await s.verify(myNumber);
      await s.selectEf(EF.face.cardFace);
      const face = Buffer.from(await s.readBerObject());
      s.check('card face object starts FF 20 82', face[0] === 0xff && face[1] === 0x20 && face[2] === 0x82);
      s.check('card face holds a JPEG 2000 photo', face.includes(Buffer.from('0000000C6A5020200D0A870A', 'hex')));
      s.check('card face holds PNG images', face.includes(Buffer.from('89504E470D0A1A0A', 'hex')));
    },
  },
  {
    id: '11.6',
    title: 'error traces: wrong auth PIN to the lock, sign without VERIFY, unknown EF and AID',
    destructive: true,
    async run(s) {
      const wrong = ascii('0000');
      await s.selectAp(AID.jpki);
      await s.selectEf(EF.jpki.authPin);
      const left = (await s.send(cmd.verify())).sw & 0x0f;
      for (let i = left - 1; i >= 0; i--) await s.send(cmd.verify(wrong), 0x63c0 | i);
      await s.send(cmd.verify(wrong), 0x6984);
      await s.send(cmd.verify(), 0x63c0);
      await s.selectEf(EF.jpki.authKey);
      await s.send(cmd.signDigestInfo(digestInfo(Buffer.from('x'))), 0x6982);
      await s.send(cmd.selectEf(0x0099), 0x6a82);
      await s.send(cmd.selectAp(FOREIGN_AID, 0x00), 0x6a82);
      s.check('locked auth PIN answers 69 84 and the query 63 C0', true);
    },
  },
];

/** Runs flows one after another on one channel. */
export async function runFlows(
  channel: ApduChannel,
  flows: Flow[],
  inputs: FlowInputs,
  hooks: { onFlowStart?: (f: Flow) => void; onExchange?: (e: Exchange) => void; onFlowEnd?: (r: FlowResult) => void } = {},
): Promise<FlowResult[]> {
  const results: FlowResult[] = [];
  for (const flow of flows) {
    hooks.onFlowStart?.(flow);
    const s = new FlowSession(channel, hooks.onExchange);
    let error: string | undefined;
    try {
      await flow.run(s, inputs);
    } catch (err) {
      error = err instanceof FlowFailure ? err.message : String((err as Error)?.stack ?? err);
    }
    const r: FlowResult = { id: flow.id, title: flow.title, ok: !error && s.checks.every((c) => c.ok), checks: s.checks, exchanges: s.exchanges, error };
    results.push(r);
    hooks.onFlowEnd?.(r);
  }
  return results;
}
