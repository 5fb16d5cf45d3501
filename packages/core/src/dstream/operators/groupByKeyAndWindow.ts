import { defineOperator, type DStream } from '../graph';
import { requireWindowDurations } from '../requireWindowDurations';
import { groupByKey } from './groupByKey';
import { window } from './window';

/**
 * `source.groupByKeyAndWindow(windowMs, slideMs)`: every `slideMs`, one `[key, values]` per key
 * of the pairs in `(time - windowMs, time]`, values oldest first (Spark's `groupByKeyAndWindow`,
 * a `window` then a `groupByKey`).
 */
export function groupByKeyAndWindow<K, V>(
  source: DStream<readonly [K, V]>,
  windowMs: number,
  slideMs: number = source.slideDurationMs,
): DStream<[K, V[]]> {
  requireWindowDurations('groupByKeyAndWindow', source as DStream<unknown>, windowMs, slideMs);
  return groupByKey(window(source, windowMs, slideMs));
}

declare module '../graph' {
  interface DStream<T> {
    /**
     * Every `slideMs` (default: this stream's slide), one `[key, values]` per key of the pairs in
     * `(time - windowMs, time]`, values oldest first (a `window` then a `groupByKey`).
     *
     * @example
     * clicks.map((click) => [click.userId, click.url] as const).groupByKeyAndWindow(60_000);
     */
    groupByKeyAndWindow<K, V>(this: DStream<readonly [K, V]>, windowMs: number, slideMs?: number): DStream<[K, V[]]>;
  }
}

defineOperator('groupByKeyAndWindow', groupByKeyAndWindow);
