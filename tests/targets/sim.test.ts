/** The sim target and the fault/trace decorator it shares with vpcd. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FaultyCard, PowerCutStore } from '../../harness/targets/faults.ts';
import { hostedTarget } from '../../harness/targets/index.ts';
import { CardAbsent, simTarget } from '../../harness/targets/sim.ts';
import { PowerLoss } from '../../simulator/pin/pin.ts';
import { MemoryStore } from '../../simulator/state/store.ts';
import { ascii, testCard, testProfile, tx } from '../support/card.ts';

const sim = () => simTarget({ profiles: testProfile });
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const SELECT_JPKI = '00A4040C0AD392F000260100000001';
const SELECT_AUTH_PIN = '00A4020C020018';

describe('sim target', () => {
  it('has every capability but exec clients, and no environment to check', async () => {
    const t = sim();
    expect([...t.capabilities].sort()).toEqual(['behaviour', 'choose-card', 'events', 'faults', 'issuer', 'module-clients', 'set-counter']);
    expect(await t.check()).toBeUndefined();
  });

  it('counters read the card without a command and without spending a try', async () => {
    const c = await sim().prepare({ pins: { auth: { triesLeft: 2 } } }, '.');
    expect((await c.counters()).auth).toEqual({ triesLeft: 2, max: 3, locked: false });
    expect((await c.counters()).sign).toEqual({ triesLeft: 5, max: 5, locked: false });
    expect(c.trace).toEqual([]);
  });

  it('traces every exchange the channel carries', async () => {
    const c = await sim().prepare({}, '.');
    const rsp = await c.channel.transmit(hex(SELECT_JPKI));
    expect(Buffer.from(rsp).toString('hex')).toBe('9000');
    expect(c.trace.map((e) => [Buffer.from(e.command).toString('hex').toUpperCase(), Buffer.from(e.response).toString('hex')])).toEqual([
      [SELECT_JPKI, '9000'],
    ]);
  });

  it('remove makes the channel throw CardAbsent; insert powers the card up again (verified state gone)', async () => {
    const c = await sim().prepare({}, '.');
    await c.channel.transmit(hex(SELECT_JPKI));
    await c.event({ type: 'remove' });
    await expect(c.channel.transmit(hex(SELECT_JPKI))).rejects.toBeInstanceOf(CardAbsent);
    await c.event({ type: 'insert' });
    // after power-up no DF is selected: the PIN EF is not found under the MF
    expect(Buffer.from(await c.channel.transmit(hex(SELECT_AUTH_PIN))).toString('hex')).not.toBe('9000');
  });

  it('a profile file is resolved against the scenario directory and keeps its own PIN values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'myna-sim-'));
    const profile = await testProfile();
    writeFileSync(join(dir, 'card.json'), JSON.stringify(profile));
    const c = await sim().prepare({ profile: 'card.json' }, dir);
    expect(c.pinValues.auth).toBe(profile.pins.auth.value);
    await expect(sim().prepare({ profile: 'missing.json' }, dir)).rejects.toThrow(/missing\.json/);
  });

  it('issuer set-pin updates the PIN values the runner expands and masks', async () => {
    const c = await sim().prepare({}, '.');
    await c.issuer('set-pin', 'kenmen', '4444');
    expect(c.pinValues.kenmen).toBe('4444');
    await expect(c.issuer('set-pin', 'kenmen', '44')).rejects.toThrow(/does not match its format/);
  });
});

describe('targets by name', () => {
  it('sim and vpcd differ only in exec clients', () => {
    const simCaps = [...hostedTarget('sim').capabilities];
    const vpcd = hostedTarget('vpcd', { slot: 1 });
    expect(vpcd.kind).toBe('vpcd');
    expect([...vpcd.capabilities].filter((c) => !simCaps.includes(c))).toEqual(['exec-clients']);
    expect(simCaps.filter((c) => !vpcd.capabilities.has(c))).toEqual([]);
  });
});

describe('fault decorator', () => {
  it('cut-response cuts the next response only', async () => {
    const store = new PowerCutStore(new MemoryStore());
    const card = new FaultyCard(testCard(await testProfile(), { store }), store);
    card.apply({ type: 'cut-response', bytes: 1 });
    expect(card.transmit(hex(SELECT_JPKI))).toEqual(Uint8Array.of(0x90));
    expect(card.transmit(hex(SELECT_JPKI))).toEqual(Uint8Array.of(0x90, 0x00));
    expect(card.trace.map((e) => e.response.length)).toEqual([1, 2]);
  });

  it('power loss fires only on a save that lowers a counter, once, after the save landed', async () => {
    const store = new PowerCutStore(new MemoryStore());
    const inner = testCard(await testProfile(), { store });
    const card = new FaultyCard(inner, store);
    card.apply({ type: 'power-loss-after-counter-write' });
    tx(card, SELECT_JPKI);
    tx(card, SELECT_AUTH_PIN);
    expect(() => card.transmit(hex(`0020008004${ascii('0000')}`))).toThrow(PowerLoss);
    expect(card.trace.at(-1)!.response).toHaveLength(0);
    expect(inner.pin('auth').remaining).toBe(2);
    expect(store.isArmed).toBe(false);
    tx(card, SELECT_JPKI);
    tx(card, SELECT_AUTH_PIN);
    expect(tx(card, `0020008004${ascii('0000')}`).swHex).toBe('63C1');
  });

  it('inject-sw answers `times` matching commands without reaching the card', async () => {
    const store = new PowerCutStore(new MemoryStore());
    const inner = testCard(await testProfile(), { store });
    const card = new FaultyCard(inner, store);
    card.apply({ type: 'inject-sw', sw: '6581', match: { ins: 'A4', p1: '04' }, times: 2 });
    expect(tx(card, SELECT_JPKI).swHex).toBe('6581');
    expect(tx(card, SELECT_AUTH_PIN).swHex).toBe('6A82'); // P1 02: not matched, reaches the card (no DF selected)
    expect(tx(card, SELECT_JPKI).swHex).toBe('6581');
    expect(tx(card, SELECT_JPKI).swHex).toBe('9000');
  });
});
