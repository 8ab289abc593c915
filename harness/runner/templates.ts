/**
 * Template values of a scenario run (`{pins.auth}`, `{pins.wrong.auth}`, `{reader}`, `{challengeFile}`,
 * `{workDir}`, `{args.x}`, `{env.X}`), expanded in values after parsing, never in the raw text, and the
 * mask that keeps the run's PIN values out of every event.
 */
import { InputError } from '../../simulator/errors.ts';
import { FOUR_DIGIT_RE, isValidSignPassword } from '../../simulator/pin/rules.ts';
import { PIN_KINDS, type PinKind, type Where } from '../scenario/model.ts';

const TEMPLATE = /\{([A-Za-z][A-Za-z0-9_.-]*)\}/g;

/** Replaces each `{name}` by vars[name]; an unknown name is an input error naming the place. */
export function expandTemplate(text: string, vars: Readonly<Record<string, string>>, where: Where): string {
  return text.replace(TEMPLATE, (_, name: string) => {
    const v = vars[name];
    if (v !== undefined) return v;
    const fix = name.startsWith('env.') ? `set the environment variable ${name.slice(4)}` : `use one of ${knownNames(vars)}`;
    throw new InputError(`${where}: template {${name}} has no value in this run; ${fix}`);
  });
}

const knownNames = (vars: Readonly<Record<string, string>>): string =>
  Object.keys(vars)
    .filter((k) => !k.startsWith('env.'))
    .map((k) => `{${k}}`)
    .join(', ');

const SIGN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * A value of the PIN's format that is not `value`: what a holder mistyping it would send. Deterministic
 * (the last character moves on by one within its class), so a scenario's wrong entry is reproducible.
 */
export function wrongPinValue(kind: PinKind, value: string): string {
  if (kind !== 'sign' && FOUR_DIGIT_RE.test(value)) return String((Number(value) + 1) % 10000).padStart(4, '0');
  if (kind !== 'sign') return value === '0000' ? '1111' : '0000';
  const last = value[value.length - 1] ?? 'A';
  const isDigit = /\d/.test(last);
  const alphabet = isDigit ? '0123456789' : 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const next = alphabet[(alphabet.indexOf(last) + 1) % alphabet.length] ?? 'A';
  const candidate = value.slice(0, -1) + next;
  return isValidSignPassword(candidate) && candidate !== value ? candidate : SIGN_ALPHABET.slice(0, 5) + (value.endsWith('9') ? '8' : '9');
}

/** The pins.* and pins.wrong.* variables of a run. */
export function pinVars(values: Readonly<Record<PinKind, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of PIN_KINDS) {
    out[`pins.${kind}`] = values[kind];
    out[`pins.wrong.${kind}`] = wrongPinValue(kind, values[kind]);
  }
  return out;
}

/**
 * A mask over every PIN value the run has used (a value set by the issuer joins the old one): each
 * occurrence becomes `<pin:kind>`, longest values first so that one value inside another goes whole.
 */
export class PinMask {
  private readonly values = new Map<string, PinKind>();

  add(values: Readonly<Record<PinKind, string>>): void {
    for (const kind of PIN_KINDS) if (values[kind]) this.values.set(values[kind], kind);
  }

  readonly apply = (text: string): string => {
    let out = text;
    for (const [value, kind] of [...this.values].sort((a, b) => b[0].length - a[0].length)) out = out.split(value).join(`<pin:${kind}>`);
    return out;
  };
}
