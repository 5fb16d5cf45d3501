import { DStreamError } from '../errors';

/** The thrown value as an Error: itself if it is one, else a `DStreamError` carrying it as `cause`. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new DStreamError(`non-Error value thrown: ${String(thrown)}`, { cause: thrown });
}
