/**
 * The relay target refuses bad input in its constructor, before PC/SC is touched (exit 2), as the pcsc
 * target does: a reader regex, an allow-list entry or file, a refusal status word, a vpcd slot.
 */
import { expect, it } from 'vitest';
import { RelayTarget } from '../../harness/targets/relay.ts';
import { inputErrorOf } from '../support/errors.ts';

const ok = { reader: 'SONY', env: {} };

it.each([
  [{ reader: '(' }, '--reader (: not a regular expression'],
  [{ allowCards: ['abc'] }, '--allow-card: "abc" is not a SHA-256'],
  [{ allowCardsFile: '/nonexistent/cards.txt' }, '--allow-cards-file /nonexistent/cards.txt: cannot read it: no such file'],
  [{ refuseSw: 0x9000 }, '--refuse-sw 9000'],
  [{ slot: 16 }, '--slot 16: a vpcd slot is 0..15'],
  [{ slot: 1.5 }, '--slot 1.5: a vpcd slot is 0..15'],
])('bad input %j is an InputError naming it, before PC/SC', (bad, message) => {
  expect(inputErrorOf(() => new RelayTarget({ ...ok, ...bad })).message).toContain(message);
});

it('good input makes a target with exec clients (the relay reader) and without card events', () => {
  const env = { MYNA_HIL_PIN_AUTH: '1234', MYNA_HIL_PIN_SIGN: 'ABC123', MYNA_HIL_PIN_JUKI: '1234', MYNA_HIL_PIN_KENMEN: '1234' };
  const t = new RelayTarget({ ...ok, env, allowCards: ['a'.repeat(64)] });
  expect(t.kind).toBe('relay');
  expect([...t.capabilities].sort()).toEqual(['exec-clients', 'module-clients']);
});
