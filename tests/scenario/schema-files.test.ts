/** The committed JSON Schemas are exactly what the zod schemas generate, and they are draft-07. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { schemaFileTexts } from '../../harness/scenario/schema.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('scenarios/schema/*.schema.json', () => {
  for (const [file, text] of Object.entries(schemaFileTexts())) {
    it(`${file} is up to date`, () => {
      const committed = readFileSync(`${ROOT}${file}`, 'utf8');
      expect(
        committed === text,
        `${file} differs from the zod schemas of harness/scenario/schema.ts; regenerate it with: node bin/run-ts.mjs scripts/gen-schema.ts`,
      ).toBe(true);
      expect(JSON.parse(committed).$schema).toBe('http://json-schema.org/draft-07/schema#');
    });
  }

  it('the scenario schema closes its objects and knows every step kind', () => {
    const schema = JSON.parse(schemaFileTexts()['scenarios/schema/scenario.schema.json']);
    type Obj = { $ref?: string; required: string[]; additionalProperties: boolean };
    const deref = (o: Obj): Obj => (o.$ref ? schema.definitions[o.$ref.replace('#/definitions/', '')] : o);
    const options: Obj[] = schema.definitions.Step.anyOf.map(deref);
    expect(options.map((o) => o.required[0])).toEqual(['client', 'card', 'event', 'issuer', 'wait']);
    expect(options.every((o) => o.additionalProperties === false)).toBe(true);
  });
});
