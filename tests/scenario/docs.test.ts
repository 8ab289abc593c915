/** The whole-file examples of docs/scenarios.md load (scenarios and manifests), so the reference cannot drift from the loader. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { loadManifest, loadScenarios } from '../../harness/scenario/load.ts';
import { yamlFile } from './files.ts';

const DOC = readFileSync(fileURLToPath(new URL('../../docs/scenarios.md', import.meta.url)), 'utf8');
const blocks = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => /^version: 1$/m.test(b));

it('docs/scenarios.md has whole-file examples of both kinds', () => {
  expect(blocks.filter((b) => b.includes('\nclients:')).length).toBe(1);
  expect(blocks.length).toBeGreaterThanOrEqual(3);
});

it.each(blocks.map((b, i) => [i, b]))('example %i loads', (_, block) => {
  const path = yamlFile(block as string);
  if ((block as string).includes('\nclients:')) expect(Object.keys(loadManifest(path).clients).length).toBeGreaterThan(0);
  else expect(loadScenarios(path).length).toBeGreaterThan(0);
});
