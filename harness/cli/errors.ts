export { InputError as UserError } from '../../simulator/errors.ts';
