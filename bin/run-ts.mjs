#!/usr/bin/env node
// Runs one TypeScript file (argv[2]) through bin/launch.mjs, passing the remaining arguments on.
import { resolve } from 'node:path';
import { run } from './launch.mjs';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
process.setSourceMapsEnabled(true);
process.argv = [process.argv[0], resolve(file), ...rest];
await run(resolve(file)); // relative to the working directory, wherever it is
