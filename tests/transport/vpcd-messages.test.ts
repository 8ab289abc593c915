import { describe, expect, it } from 'vitest';
import { SW_NO_PRECISE_DIAGNOSIS, VpcdControl, VpcdResponder } from '../../simulator/transport/vpcd/messages.ts';
import { EchoCard, TEST_ATR, ThrowingCard } from '../support/test-cards.ts';
import type { SmartCard } from '../../simulator/card/types.ts';

const ctl = (c: number) => Uint8Array.of(c);

describe('VpcdResponder: each vpcd message gets exactly the right reply', () => {
  it('power controls drive the card and get no reply', () => {
    const card = new EchoCard();
    const r = new VpcdResponder(card);
    for (const [code, kind] of [
      [VpcdControl.POWER_ON, 'power-on'],
      [VpcdControl.RESET, 'reset'],
      [VpcdControl.POWER_OFF, 'power-off'],
    ] as const) {
      const res = r.handle(ctl(code));
      expect(res.ok && res.exchange.kind).toBe(kind);
      expect(res.ok && res.exchange.reply).toBeUndefined();
    }
    expect([card.powerUps, card.resets, card.powerDowns]).toEqual([1, 1, 1]);
  });

  it('GET ATR is answered with the ATR in every power state', () => {
    const r = new VpcdResponder(new EchoCard());
    for (const before of [undefined, VpcdControl.POWER_ON, VpcdControl.RESET, VpcdControl.POWER_OFF]) {
      if (before !== undefined) r.handle(ctl(before));
      const res = r.handle(ctl(VpcdControl.GET_ATR));
      expect(res.ok && res.exchange.reply).toEqual(TEST_ATR);
    }
  });

  it('an APDU (2 bytes or more) is answered with the card response, in any power state', () => {
    const card = new EchoCard();
    const r = new VpcdResponder(card);
    const res = r.handle(Uint8Array.of(0x00, 0xa4));
    expect(res.ok && [...res.exchange.reply!]).toEqual([0x00, 0xa4, 0x90, 0x00]);
    expect(card.apdus).toBe(1);
  });

  it('a throwing transmit is answered 6F00', () => {
    const r = new VpcdResponder(new ThrowingCard());
    const res = r.handle(Uint8Array.of(0, 0xb0, 0, 0, 0));
    expect(res.ok && res.exchange.reply).toEqual(SW_NO_PRECISE_DIAGNOSIS);
    expect(res.ok && res.exchange.fault).toMatch(/threw/);
  });

  it('an unusable response (empty, 1 byte, over 65535 bytes) is replaced by 6F00', () => {
    for (const n of [0, 1, 0x10000]) {
      const card = new EchoCard();
      card.transmit = () => new Uint8Array(n);
      const res = new VpcdResponder(card).handle(Uint8Array.of(0, 0xb0, 0, 0));
      expect(res.ok && res.exchange.reply).toEqual(SW_NO_PRECISE_DIAGNOSIS);
    }
  });

  it('unknown 1-byte control codes are rejected (the connection is closed), never answered', () => {
    const r = new VpcdResponder(new EchoCard());
    for (const code of [0x03, 0x05, 0x80, 0xff]) {
      const res = r.handle(ctl(code));
      expect(res.ok).toBe(false);
      expect(!res.ok && res.cause).toBe('protocol');
    }
  });

  it('a card whose atr() fails later keeps answering its last good ATR; with none it is rejected', () => {
    const card = new EchoCard();
    const r = new VpcdResponder(card);
    r.handle(ctl(VpcdControl.GET_ATR));
    card.atr = () => {
      throw new Error('broken');
    };
    const res = r.handle(ctl(VpcdControl.GET_ATR));
    expect(res.ok && res.exchange.reply).toEqual(TEST_ATR);
    expect(res.ok && res.exchange.fault).toMatch(/last good ATR/);
    const fresh = new VpcdResponder(card);
    expect(fresh.handle(ctl(VpcdControl.GET_ATR)).ok).toBe(false);
  });

  it('a PowerLoss thrown by the card closes the connection instead of answering', () => {
    const card: SmartCard = new EchoCard();
    card.transmit = () => {
      const e = new Error('power lost mid-command (fault injection)');
      e.name = 'PowerLoss';
      throw e;
    };
    const res = new VpcdResponder(card).handle(Uint8Array.of(0, 0x2a, 0, 0));
    expect(res.ok).toBe(false);
    expect(!res.ok && res.cause).toBe('power-loss');
  });

  it('removal powers a powered card down, once', () => {
    const card = new EchoCard();
    const r = new VpcdResponder(card);
    expect(r.removed()).toBeUndefined();
    expect(card.powerDowns).toBe(0);
    r.handle(ctl(VpcdControl.POWER_ON));
    r.removed();
    r.removed();
    expect(card.powerDowns).toBe(1);
  });
});
