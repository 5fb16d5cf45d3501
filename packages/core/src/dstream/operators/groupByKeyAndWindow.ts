import type { DStream } from '../DStream';
import { requireWindowDurations } from '../requireWindowDurations';
import { groupByKey } from './groupByKey';
import { type WindowOptions, window } from './window';

/**
 * `source.groupByKeyAndWindow(windowMs, slideMs)`: every `slideMs`, one `[key, values]` per key
 * of the pairs in `(time - windowMs, time]`, values oldest first (Spark's `groupByKeyAndWindow`,
 * a `window` then a `groupByKey`).
 */
export function groupByKeyAndWindow<K, V>(
  source: DStream<readonly [K, V]>,
  windowMs: number,
  slideMs: number = source.slideDurationMs,
  options: WindowOptions = {},
): DStream<[K, V[]]> {
  requireWindowDurations('groupByKeyAndWindow', source as DStream<unknown>, windowMs, slideMs);
  // The window's records are its state (restored after a restart); the grouping is recomputed from them.
  return groupByKey(window(source, windowMs, slideMs, options));
}
