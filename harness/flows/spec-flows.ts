/**
 * The example client flows of the spec (section 11) as runnable checks. Each flow talks to an
 * ApduChannel, so the same flow runs in process, through PC/SC against the simulator, or (the
 * non-destructive ones) against a physical card.
 *
 * A flow records every exchange (PIN data redacted) and a list of checks with their outcome.
 */
import { createHash, verify, X509Certificate } from 'node:crypto';
import { encodeCommand, fromHex, parseResponse, toHex } from '../../simulator/apdu/codec.ts';
import { swHex, swName } from '../../simulator/apdu/sw.ts';
import { commandName, redactCommand } from '../../simulator/apdu/trace.ts';
import { SHA256_DIGESTINFO_PREFIX } from '../../simulator/card/crypto.ts';
import { isValidMyNumber } from '../../simulator/profile/rules.ts';
import { AID } from '../../simulator/applets/index.ts';
import type { ApduChannel } from './channel.ts';

/** The AIDs of simulator/applets, as hex for the flows' commands. */
export const AID_HEX = { jpki: toHex(AID.jpki), text: toHex(AID.text), face: toHex(AID.face) };

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

/** Records exchanges and checks for one flow. */
export class FlowSession {
  readonly checks: Check[] = [];
  readonly exchanges: Exchange[] = [];
  constructor(private readonly channel: ApduChannel, private readonly onExchange?: (e: Exchange) => void) {}

  /** Sends a command; with `expectSw`, a different SW fails the flow at once. */
  async send(cmd: string | Uint8Array, expectSw?: number): Promise<{ data: Uint8Array; sw: number }> {
    const bytes = typeof cmd === 'string' ? fromHex(cmd) : cmd;
    const t0 = performance.now();
    const raw = await this.channel.transmit(bytes);
    const ms = performance.now() - t0;
    if (raw.length < 2) {
      this.check(`${commandName(bytes)} answers with a status word`, false, `got ${raw.length} bytes`);
      throw new FlowFailure('no status word');
    }
    const r = parseResponse(raw);
    const e: Exchange = {
      command: redactCommand(bytes),
      name: commandName(bytes),
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
    return { data: new Uint8Array(r.data), sw: r.sw };
  }

  async ok(cmd: string | Uint8Array): Promise<Uint8Array> {
    return (await this.send(cmd, 0x9000)).data;
  }

  check(what: string, ok: boolean, detail?: string): boolean {
    this.checks.push({ what, ok, detail });
    return ok;
  }

  /** Like check, but stops the flow when it fails. */
  require(what: string, ok: boolean, detail?: string): void {
    if (!this.check(what, ok, detail)) throw new FlowFailure(what);
  }

  selectAp(aid: string): Promise<Uint8Array> {
    return this.ok(`00A4040C0A${aid}`);
  }

  selectEf(fid: string): Promise<Uint8Array> {
    return this.ok(`00A4020C02${fid}`);
  }

  verify(value: string, expectSw = 0x9000): Promise<{ data: Uint8Array; sw: number }> {
    return this.send(encodeCommand({ cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: Buffer.from(value, 'latin1') }), expectSw);
  }

  /** VERIFY query on the selected PIN: requires `63 Cx` with a try left; returns the tries left. */
  async triesLeft(what: string): Promise<number> {
    const q = await this.send('00200080');
    this.require(`${what} query answers 63 Cx`, q.sw >> 4 === 0x63c, `${q.sw & 0x0f} tries left`);
    this.require(`${what} is not locked`, (q.sw & 0x0f) > 0);
    return q.sw & 0x0f;
  }

  /** `80 2A 00 80` with the SHA-256 DigestInfo of `message`, on the selected key (spec 6). */
  signSha256(message: Uint8Array): Promise<Uint8Array> {
    return this.ok(encodeCommand({ cla: 0x80, ins: 0x2a, p1: 0, p2: 0x80, data: digestInfo(message), ne: 256 }));
  }

  /** OpenSC's way to read a certificate EF: 4-byte header, then 256-byte chunks, the last exact. */
  async readCertificate(): Promise<Uint8Array> {
    const head = await this.ok('00B0000004');
    this.require('certificate starts with 30 82', head[0] === 0x30 && head[1] === 0x82, toHex(head, ' '));
    const size = ((head[2] << 8) | head[3]) + 4;
    const out = new Uint8Array(size);
    for (let off = 0; off < size; off += 256) {
      const n = Math.min(256, size - off);
      const chunk = await this.ok(encodeCommand({ cla: 0, ins: 0xb0, p1: off >> 8, p2: off & 0xff, ne: n }));
      if (chunk.length !== n) this.require(`READ BINARY at ${off} returns ${n} bytes`, false, `${chunk.length} bytes`);
      out.set(chunk, off);
    }
    return out;
  }

  /** jpki/myna's way for BER objects: 7 bytes of header, then the rest in chunks. */
  async readBerObject(): Promise<Uint8Array> {
    const head = await this.ok('00B0000007');
    let len: number;
    let hdr: number;
    if (head[2] < 0x80) [len, hdr] = [head[2], 3];
    else if (head[2] === 0x81) [len, hdr] = [head[3], 4];
    else [len, hdr] = [(head[3] << 8) | head[4], 5];
    const total = hdr + len;
    const out = new Uint8Array(total);
    out.set(head.subarray(0, Math.min(7, total)));
    for (let off = 7; off < total; off += 256) {
      const n = Math.min(256, total - off);
      out.set(await this.ok(encodeCommand({ cla: 0, ins: 0xb0, p1: off >> 8, p2: off & 0xff, ne: n })), off);
    }
    return out;
  }
}

function digestInfo(message: Uint8Array): Uint8Array {
  return Buffer.concat([SHA256_DIGESTINFO_PREFIX, createHash('sha256').update(message).digest()]);
}

/** Parses `FF 20 .. DF 21 .. DF 22 name DF 23 address DF 24 birth DF 25 sex` (spec 3.2.1). */
export function parseBasic4(obj: Uint8Array): { name: string; address: string; birth: string; sex: string } {
  const fields = new Map<number, Uint8Array>();
  let i = obj[2] < 0x80 ? 3 : obj[2] === 0x81 ? 4 : 5;
  while (i + 3 <= obj.length) {
    const tag = (obj[i] << 8) | obj[i + 1];
    let len = obj[i + 2];
    let v = i + 3;
    if (len === 0x81) [len, v] = [obj[i + 3], i + 4];
    else if (len === 0x82) [len, v] = [(obj[i + 3] << 8) | obj[i + 4], i + 5];
    fields.set(tag, obj.subarray(v, v + len));
    i = v + len;
  }
  const text = (t: number) => Buffer.from(fields.get(t) ?? []).toString('utf8');
  return { name: text(0xdf22), address: text(0xdf23), birth: text(0xdf24), sex: text(0xdf25) };
}

export const SPEC_FLOWS: Flow[] = [
  {
    id: '11.1',
    title: 'auth certificate, auth PIN, signature with the auth key (web login)',
    destructive: false,
    async run(s, inputs) {
      await s.selectAp(AID_HEX.jpki);
      await s.selectEf('0006');
      const label = Buffer.from(await s.ok('00B0000020')).toString('latin1').trimEnd();
      s.check('token label is a JPKI token', label.startsWith('JPKIAP'), label);
      await s.selectEf('000A');
      const cert = new X509Certificate(await s.readCertificate());
      s.check('auth certificate parses', true, cert.subject.replaceAll('\n', ', '));
      await s.selectEf('0018');
      await s.triesLeft('auth PIN');
      await s.verify(inputs.authPin);
      await s.selectEf('0017');
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
      await s.selectAp(AID_HEX.jpki);
      const sel = await s.send('00A4020C020001');
      if (sel.sw === 0x6a82) {
        s.check('card has no signature certificate (minor or face-authentication card)', true);
        return;
      }
      const denied = await s.send('00B0000004');
      s.check('sign certificate is protected before VERIFY (69 82)', denied.sw === 0x6982, swHex(denied.sw));
      await s.selectEf('001B');
      await s.triesLeft('sign password');
      await s.verify(inputs.signPin);
      await s.selectEf('0001');
      const cert = new X509Certificate(await s.readCertificate());
      s.check('sign certificate parses', true, cert.subject.replaceAll('\n', ', '));
      await s.selectEf('001A');
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
      await s.selectAp(AID_HEX.text);
      await s.selectEf('0011');
      await s.verify(inputs.kenmenPin);
      await s.selectEf('0001');
      const mn = await s.ok('00B0000011');
      s.require('My Number EF starts FF 10 0C', mn[0] === 0xff && mn[1] === 0x10 && mn[2] === 0x0c, toHex(mn.subarray(0, 3), ' '));
      const myNumber = Buffer.from(mn.subarray(3, 15)).toString('latin1');
      s.check('My Number has a valid check digit', isValidMyNumber(myNumber));
      await s.selectEf('0002');
      const b4 = parseBasic4(await s.readBerObject());
      s.check('name is present', b4.name.length > 0);
      s.check('address is present', b4.address.length > 0);
      s.check('birth date is YYYYMMDD', /^\d{8}$/.test(b4.birth), b4.birth);
      s.check('sex is a JIS X 0303 code', /^[0129]$/.test(b4.sex), b4.sex);
    },
  },
  {
    id: '11.5',
    title: 'card face with photo via 照合番号A (券面事項確認AP)',
    destructive: false,
    async run(s, inputs) {
      await s.selectAp(AID_HEX.text);
      await s.selectEf('0011');
      await s.verify(inputs.kenmenPin);
      await s.selectEf('0001');
      const myNumber = Buffer.from((await s.ok('00B0000011')).subarray(3, 15)).toString('latin1');
      await s.selectAp(AID_HEX.face);
      await s.selectEf('0013');
      await s.verify(myNumber);
      await s.selectEf('0002');
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
      await s.selectAp(AID_HEX.jpki);
      await s.selectEf('0018');
      const q = await s.send('00200080');
      const left = q.sw & 0x0f;
      for (let i = left - 1; i >= 0; i--) await s.send('002000800430303030', 0x63c0 | i);
      await s.send('002000800430303030', 0x6984);
      await s.send('00200080', 0x63c0);
      await s.selectEf('0017');
      await s.send(encodeCommand({ cla: 0x80, ins: 0x2a, p1: 0, p2: 0x80, data: digestInfo(Buffer.from('x')), ne: 256 }), 0x6982);
      await s.send('00A4020C020099', 0x6a82);
      await s.send('00A4040007A0000000031010', 0x6a82);
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
