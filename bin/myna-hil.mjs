#!/usr/bin/env node
// Entry point of the `myna-hil` command: the TypeScript CLI, bundled once by bin/launch.mjs.
import { run } from './launch.mjs';

process.setSourceMapsEnabled(true); // linked maps: stack traces point at the .ts files
await run('harness/cli/main.ts');
