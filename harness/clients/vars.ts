/**
 * `{name}` templates in a client binding (command, args, env, cwd), expanded with the run's values
 * (`reader`, `pins.auth`, `pins.wrong.auth`, `challengeFile`, `args.x`, ...). Only `{` + a name + `}`
 * is a template, and not `${NAME}`, so JSON or shell braces in an argument pass through untouched.
 */
import { InputError } from '../../simulator/errors.ts';

const TEMPLATE = /(?<!\$)\{([A-Za-z_][\w.-]*)\}/g;

/** Expands every `{name}` of `text`; an unknown name is an input error naming `where` (never a value). */
export function expandVars(text: string, vars: Record<string, string>, where: string): string {
  return text.replace(TEMPLATE, (_, name: string) => {
    const value = vars[name];
    if (value !== undefined) return value;
    const known = Object.keys(vars).sort().join(', ') || 'none';
    throw new InputError(`${where}: unknown template variable {${name}}; the run defines: ${known}. Fix the name or remove the braces.`);
  });
}
