/**
 * The harness version, from package.json: the one source for run reports and session headers. Imported
 * as JSON so that esbuild inlines it into the CLI bundle (dist/ has no package.json beside it to read).
 */
import pkg from '../package.json' with { type: 'json' };

export const HARNESS_VERSION: string = pkg.version;
