import { ConfigError } from '../errors';
import type { DStream } from './graph';

/**
 * Throws `ConfigError` unless `windowMs` and `slideMs` are positive whole multiples of `source`'s
 * slide duration (the batch interval, or the slide of a window it is built on): the rule of Spark's
 * `WindowedDStream`, since a window can only be made of whole parent batches.
 */
export function requireWindowDurations(operator: string, source: DStream<unknown>, windowMs: unknown, slideMs: unknown): void {
  const parentMs = source.slideDurationMs;
  const check = (argument: string, value: unknown): void => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value % parentMs !== 0) {
      throw new ConfigError(
        `${operator}(${argument})`,
        value,
        `must be a positive multiple of the parent stream's slide duration (${parentMs} ms)`,
        `Pass a whole number of parent batches, e.g. ${argument}: ${suggestion(value, parentMs)}.`,
      );
    }
  };
  check('windowMs', windowMs);
  check('slideMs', slideMs);
}

/** The nearest valid duration at or above `value`, or three parent batches. */
function suggestion(value: unknown, parentMs: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value / parentMs) * parentMs : parentMs * 3;
}
