#!/usr/bin/env node
// Entry point of the `myna-hil` command: runs the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../harness/cli/main.ts');
