/**
 * The command set as the card answers it: the status word of every CLA of a fixed list x every INS
 * x a few bodies, with no DF selected and with the JPKI AP selected (docs/card.md §5, §9.9), against
 * a table recorded from the card (fixtures/ins-matrix.json, see tests/support/ins-matrix.ts). A cell
 * that changes is a change in what the card understands: re-record the table only on purpose.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../simulator/state/store.ts';
import { newCard } from '../support/card.ts';
import { type InsMatrix, MATRIX_BODIES, MATRIX_CLAS, MATRIX_STATES, recordInsMatrix } from '../support/ins-matrix.ts';

const golden = JSON.parse(readFileSync(new URL('./fixtures/ins-matrix.json', import.meta.url), 'utf8')) as InsMatrix;

describe('instruction matrix', () => {
  it('the fixture covers every state, CLA and body of the matrix', () => {
    expect(Object.keys(golden).sort()).toEqual(Object.keys(MATRIX_STATES).sort());
    for (const byCla of Object.values(golden)) {
      expect(Object.keys(byCla).sort()).toEqual(MATRIX_CLAS.map((c) => `CLA ${c.toString(16).toUpperCase().padStart(2, '0')}`).sort());
      for (const byBody of Object.values(byCla)) expect(Object.keys(byBody).sort()).toEqual(Object.keys(MATRIX_BODIES).sort());
    }
  });

  it('a fresh card answers every cell with the recorded status word, without writing its state', async () => {
    const store = new MemoryStore();
    const card = await newCard('adult', { store });
    const saves = store.saves;
    const now = recordInsMatrix(card);
    // nothing persistent changed, so every command met a fresh card (reset clears the rest)
    expect(store.saves).toBe(saves);
    expect(now).toEqual(golden);
  });
});
