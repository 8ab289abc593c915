/**
 * PIN values on the command line: `--<name> VALUE` is visible to every user of the machine (ps,
 * /proc/<pid>/cmdline), so each value can also come from a file (`--<name>-file PATH`, `-` for
 * standard input) or an environment variable (`--<name>-env VAR`). Exactly one source per value.
 * Messages name the option and the source, never the value.
 */
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { InputError } from '../../simulator/errors.ts';

/** The three options of one secret value: `--value`, `--value-file`, `--value-env`. */
export function secretOptions<T>(y: Argv<T>, name: string, describe: string): Argv<T> {
  return (y as Argv)
    .option(name, { type: 'string', requiresArg: true, describe: `${describe} (seen by other users in ps: prefer --${name}-file or --${name}-env)` })
    .option(`${name}-file`, {
      type: 'string',
      requiresArg: true,
      describe: `Read --${name} from this file, - for standard input (one trailing newline is dropped)`,
    })
    .option(`${name}-env`, { type: 'string', requiresArg: true, describe: `Read --${name} from this environment variable` }) as Argv<T>;
}

/** Help text shared by every command with secret options. */
export const SECRET_EPILOG =
  'PIN values: each --X value option has --X-file PATH (- reads standard input; one trailing newline is dropped) ' +
  'and --X-env VAR; give exactly one of the three. A value on the command line is visible to every user in ps.';

/** Keeps `-` (standard input) for one option per process: a second read would find it empty. */
let stdinTakenBy: string | undefined;

/**
 * The value of secret `name` from whichever of its three options was given; undefined if none was
 * and `required` is false. Throws InputError for two sources, a missing one, an unreadable file or
 * an unset variable.
 */
export function readSecret(args: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const given = [name, `${name}-file`, `${name}-env`].filter((o) => args[o] !== undefined);
  if (given.length > 1) throw new InputError(`--${given.join(' and --')}: give the value of --${name} once, from one of them`);
  if (given.length === 0) {
    if (required)
      throw new InputError(`--${name}: missing (fix: give --${name}-file PATH, --${name}-file - for standard input, --${name}-env VAR, or --${name} VALUE)`);
    return undefined;
  }
  const source = given[0];
  const arg = String(args[source]);
  if (source === name) return arg;
  if (source.endsWith('-env')) {
    const v = process.env[arg];
    if (v === undefined) throw new InputError(`--${source} ${arg}: the environment variable ${arg} is not set (fix: export it, or name another variable)`);
    return v;
  }
  return readSecretFile(source, arg);
}

function readSecretFile(option: string, path: string): string {
  if (path === '-') {
    if (stdinTakenBy) throw new InputError(`--${option} -: standard input is already read for --${stdinTakenBy} (fix: give one of them a file or a variable)`);
    stdinTakenBy = option;
  }
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new InputError(`--${option} ${path}: cannot read it: ${why} (fix: give a readable file, or - for standard input)`);
  }
  // `echo 1234 > f` and `echo 1234 | …` add a newline that is not part of the value; only one goes.
  return text.replace(/\r?\n$/, '');
}
