/**
 * An error caused by input the user supplied (a profile, a state file, an option). Its message names
 * the file, the place and the fix; the CLI prints it without a stack and exits with code 2.
 */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
