#!/usr/bin/env node
// Entry point of the `myna-hil` command: the TypeScript CLI, bundled once by bin/launch.mjs.
import { run } from './launch.mjs';

process.setSourceMapsEnabled(true);
await run('harness/cli/main.ts');
