/**
 * The reporters by name, as `--reporter` names them. Each lives in its own file behind the Reporter
 * interface (./reporter.ts) and reads only the run's events.
 */
import { InputError } from '../../simulator/errors.ts';
import { consoleReporter } from './console.ts';
import { htmlReporter } from './html.ts';
import { jsonReporter } from './json.ts';
import { junitReporter } from './junit.ts';
import type { Reporter, ReporterFactory, ReporterOptions } from './reporter.ts';

export const REPORTERS: Readonly<Record<string, ReporterFactory>> = {
  console: consoleReporter,
  html: htmlReporter,
  json: jsonReporter,
  junit: junitReporter,
};

/** The reporters named (`--reporter console,junit` or repeated); an unknown name is an input error. */
export function createReporters(names: readonly string[], options: ReporterOptions): Reporter[] {
  return names.map((name) => {
    const factory = Object.hasOwn(REPORTERS, name) ? REPORTERS[name] : undefined;
    if (!factory) {
      throw new InputError(`--reporter: unknown reporter "${name}"; use one of: ${Object.keys(REPORTERS).join(', ')}`);
    }
    return factory(options);
  });
}
