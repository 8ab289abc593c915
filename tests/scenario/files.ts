/** Test support for the scenario loader: YAML texts written to a temporary directory removed after each test file. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';
import type { InputError } from '../../simulator/errors.ts';
import { inputErrorOf } from '../support/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'myna-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Writes `text` to a fresh file (or to `name` under the temporary directory) and returns its path. */
export function yamlFile(text: string, name = `s${++n}.yaml`): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

export const tempDir = (): string => dir;

/** The message of the InputError `f` throws, with the temporary file's path replaced by `FILE`. */
export function errorText(f: () => unknown, path: string): string {
  const e: InputError = inputErrorOf(f);
  return e.message.replaceAll(path, 'FILE');
}
