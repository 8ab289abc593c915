/**
 * Templates in scenario and manifest values: `{pins.auth}`, `{pins.wrong.auth}`, `{reader}`,
 * `{challengeFile}`, `{workDir}`, `{args.x}`, `{env.NAME}`. They stay in the parsed values and are
 * expanded by the runner once it knows them, never in the raw YAML text (a value templated into the
 * text could change the document's structure, the trap of text-templating runners).
 *
 * Only `{name}` where name starts with a letter is a template, so that a regular expression such as
 * `\d{4}` or a JSON text is left alone.
 */
import { InputError } from '../../simulator/errors.ts';
import { PIN_KINDS } from './model.ts';

const TEMPLATE = /\{([A-Za-z][A-Za-z0-9_.-]*)\}/g;

const PIN_ALT = PIN_KINDS.join('|');
/** The variables a scenario or manifest may name; `args.*` and `env.*` take any name. */
const KNOWN = new RegExp(`^(?:pins\\.(?:wrong\\.)?(?:${PIN_ALT})|reader|challengeFile|workDir|args\\.[A-Za-z_][A-Za-z0-9_-]*|env\\.[A-Za-z_][A-Za-z0-9_]*)$`);
export const KNOWN_TEMPLATES =
  '{pins.<pin>}, {pins.wrong.<pin>} (pin: sign, auth, juki, kenmen, common), {reader}, {challengeFile}, {workDir}, {args.<name>}, {env.<NAME>}';

/** The variable names a text refers to, in order of appearance (repeats kept). */
export function templateNames(text: string): string[] {
  return [...text.matchAll(TEMPLATE)].map((m) => m[1]);
}

/** Why a text's templates cannot be expanded by any run (an unknown name), or undefined. */
export function templateProblem(text: string): string | undefined {
  const unknown = templateNames(text).filter((n) => !KNOWN.test(n));
  if (unknown.length === 0) return undefined;
  return `unknown template variable {${unknown[0]}}; known: ${KNOWN_TEMPLATES}`;
}

/**
 * Replaces each `{name}` of `text` by `vars[name]`. A name the run has no value for is an InputError
 * naming `where` (the file:line:col of the value) and the variable, never the text (which may hold a PIN).
 */
export function expandTemplate(text: string, vars: Readonly<Record<string, string>>, where = 'template'): string {
  return text.replace(TEMPLATE, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      const known = Object.keys(vars).sort().join(', ') || 'none';
      throw new InputError(`${where}: template variable {${name}} has no value in this run (known here: ${known}); fix the name or give the value`);
    }
    return value;
  });
}
