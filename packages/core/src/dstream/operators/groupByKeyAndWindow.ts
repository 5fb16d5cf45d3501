import { defineOperator, type DStream } from '../graph';
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

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Every `slideMs` (default: this stream's slide), one `[key, values]` per key of the pairs in
     * `(time - windowMs, time]`, values oldest first (a `window` then a `groupByKey`).
     *
     * @example
     * clicks.map((click) => [click.userId, click.url] as const).groupByKeyAndWindow(60_000);
     */
    groupByKeyAndWindow<K, V>(this: DStream<readonly [K, V], Tx>, windowMs: number, slideMs?: number, options?: WindowOptions): DStream<[K, V[]], Tx>;
  }
}

defineOperator('groupByKeyAndWindow', groupByKeyAndWindow);
