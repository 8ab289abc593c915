/**
 * Writes the published JSON Schemas of scenario files and client manifests (draft-07, read by editors'
 * YAML language servers) from the zod schemas of harness/scenario/schema.ts:
 *
 *   node bin/run-ts.mjs scripts/gen-schema.ts
 *
 * tests/scenario/schema-files.test.ts fails when the committed files differ from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../bench/machine.ts';
import { schemaFileTexts } from '../harness/scenario/schema.ts';

const root = repoRoot(); // this module runs from a bundle under node_modules/.cache
for (const [file, text] of Object.entries(schemaFileTexts())) {
  writeFileSync(join(root, file), text);
  console.log(`wrote ${file}`);
}
