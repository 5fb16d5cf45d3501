import { ConfigError } from '../errors';

/**
 * Throws `ConfigError` unless `value` is a function. `operator` and `argument` name the call in
 * the message ("map(fn)"); `fix` tells the caller what to pass instead.
 */
export function requireFunction(operator: string, argument: string, value: unknown, fix: string): void {
  if (typeof value !== 'function') {
    throw new ConfigError(`${operator}(${argument})`, value, 'must be a function', fix);
  }
}
