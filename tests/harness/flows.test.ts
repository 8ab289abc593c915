/**
 * The spec flows and the authenticity check, in process: they pass on good cards of every variant
 * they apply to, and the authenticity check fails on a tampered card.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { authenticityFlow } from '../../harness/flows/authenticity.ts';
import { inProcessChannel } from '../../simulator/card/channel.ts';
import { type FlowResult, runFlows, SPEC_FLOWS } from '../../harness/flows/spec-flows.ts';
import { testProfile } from '../support/card.ts';

const inputs = (p: Profile) => ({ authPin: p.pins.auth.value, signPin: p.pins.sign.value, kenmenPin: p.pins.kenmen.value });
const failedChecks = (r: FlowResult[]) => r.flatMap((f) => f.checks.filter((c) => !c.ok).map((c) => `${f.id}: ${c.what}`));

describe('spec flows in process', () => {
  it('all pass on an adult card, and no exchange shows a PIN', async () => {
    const p = await testProfile();
    const results = await runFlows(inProcessChannel(cardFromProfile(p)), [...SPEC_FLOWS, authenticityFlow(p.issuer.rootPublicKey)], inputs(p));
    expect(failedChecks(results)).toEqual([]);
    expect(results.every((r) => r.ok)).toBe(true);
    const all = results.flatMap((r) => r.exchanges.map((e) => e.command)).join('\n');
    for (const pin of [p.pins.auth.value, p.pins.sign.value, p.holder.myNumber]) {
      expect(all).not.toContain(Buffer.from(pin).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 '));
    }
  });

  it('the sign flow copes with a card without a signature certificate', async () => {
    const p = await testProfile('minor');
    const [r] = await runFlows(inProcessChannel(cardFromProfile(p)), SPEC_FLOWS.filter((f) => f.id === '11.2'), inputs(p));
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.what)).toContain('card has no signature certificate (minor or face-authentication card)');
  });

  it('a wrong PIN stops a flow with the status word in the failed check', async () => {
    const p = await testProfile();
    const [r] = await runFlows(inProcessChannel(cardFromProfile(p)), SPEC_FLOWS.filter((f) => f.id === '11.1'), { ...inputs(p), authPin: '0000' });
    expect(r.ok).toBe(false);
    expect(failedChecks([r]).join()).toMatch(/answers 9000/);
    expect(r.checks.find((c) => !c.ok)?.detail).toBe('answered 63C2 (COUNTER(2))');
  });
});

describe('authenticity check', () => {
  it('fails on a card whose holder data was edited after the issuer signed it', async () => {
    const good = await testProfile();
    const tampered: Profile = structuredClone(good);
    tampered.holder.name = '鈴木　花子';
    const [r] = await runFlows(inProcessChannel(cardFromProfile(tampered)), [authenticityFlow(good.issuer.rootPublicKey)], inputs(good));
    expect(r.ok).toBe(false);
    expect(failedChecks([r])).toEqual([
      'auth-check: DF33 (issuer signature over DF31 ‖ DF32) verifies',
      'auth-check: DF28 (issuer signature over the three card-face segments) verifies',
    ]);
  });

  it('fails the CVC against a foreign trust anchor', async () => {
    const p = await testProfile();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const [r] = await runFlows(inProcessChannel(cardFromProfile(p)), [authenticityFlow(other)], inputs(p));
    expect(failedChecks([r])).toEqual(['auth-check: CVC signature verifies with the trust anchor', 'auth-check: CVC signature verifies with the trust anchor']);
  });
});
