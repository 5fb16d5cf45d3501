import { ConfigError } from '../../errors';
import { defineOperator, type DStream } from '../graph';
import { reducedWindowStream } from '../ReducedWindowNode';
import { requireFunction } from '../requireFunction';
import { requireWindowDurations } from '../requireWindowDurations';
import type { WidenLiteral } from './reduceByKey';

/** Options of `reduceByKeyAndWindow`. */
export interface ReduceByKeyAndWindowOptions<K, V> {
  /**
   * The inverse of the reduce function (`(a, b) => a - b` for a sum): each window is then the
   * previous one updated with the batches that entered and left it, not a fold of the whole window.
   */
  readonly invFunc?: (accumulated: V, removed: V) => V;
  /** Keeps a `[key, value]` in the window when it returns true; with `invFunc`, drops keys for good (e.g. counts of 0). */
  readonly filterFunc?: (pair: [K, V]) => boolean;
  /** Name the window's state is stored under (default: derived from the stream's lineage). */
  readonly name?: string;
}

/**
 * `source.reduceByKeyAndWindow(fn, windowMs, slideMs, options)`: every `slideMs`, one
 * `[key, value]` per key of the pairs in `(time - windowMs, time]`, folded with `fn` oldest batch
 * first (Spark's `ReducedWindowedDStream`).
 */
export function reduceByKeyAndWindow<K, V>(
  source: DStream<readonly [K, V]>,
  fn: (accumulated: WidenLiteral<V>, value: WidenLiteral<V>) => WidenLiteral<V>,
  windowMs: number,
  slideMs: number = source.slideDurationMs,
  options: ReduceByKeyAndWindowOptions<K, WidenLiteral<V>> = {},
): DStream<[K, WidenLiteral<V>]> {
  const operator = 'reduceByKeyAndWindow';
  requireFunction(operator, 'fn', fn, 'Pass an associative function combining two values of one key, e.g. (a, b) => a + b.');
  requireWindowDurations(operator, source as DStream<unknown>, windowMs, slideMs);
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError(`${operator}(options)`, options, 'must be an object', 'Pass e.g. { invFunc: (a, b) => a - b }.');
  }
  const { invFunc, filterFunc, name } = options;
  if (invFunc !== undefined) {
    requireFunction(operator, 'invFunc', invFunc, 'Pass the inverse of fn, e.g. (a, b) => a - b for a sum, or leave it out.');
  }
  if (filterFunc !== undefined) {
    requireFunction(operator, 'filterFunc', filterFunc, 'Pass a predicate on [key, value], e.g. ([, count]) => count !== 0.');
  }
  return reducedWindowStream<K, WidenLiteral<V>>(source as DStream<readonly [K, WidenLiteral<V>]>, {
    operator,
    reduce: fn,
    invReduce: invFunc,
    filter: filterFunc,
    windowMs,
    slideMs,
    name,
  });
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Every `slideMs` (default: this stream's slide), one `[key, value]` per key of the pairs in
     * `(time - windowMs, time]`, folded with `fn` oldest batch first. With `options.invFunc`, the
     * inverse of `fn`, the window is updated incrementally (previous window, plus the batches that
     * entered, minus with `invFunc` those that left) and `options.filterFunc` then drops keys, e.g.
     * those whose count fell to 0; without it, keys stay with the inverse's result. Each batch is
     * reduced by key while current, so records do not outlive their batch. The state (reduced
     * batches, last window) is registered under `options.name` (default: derived from the lineage).
     *
     * @example
     * words.map((word) => [word, 1] as const)
     *   .reduceByKeyAndWindow((a, b) => a + b, 60_000, 10_000, {
     *     invFunc: (a, b) => a - b,
     *     filterFunc: ([, count]) => count > 0,
     *   });
     */
    reduceByKeyAndWindow<K, V>(
      this: DStream<readonly [K, V], Tx>,
      fn: (accumulated: WidenLiteral<V>, value: WidenLiteral<V>) => WidenLiteral<V>,
      windowMs: number,
      slideMs?: number,
      options?: ReduceByKeyAndWindowOptions<K, WidenLiteral<V>>,
    ): DStream<[K, WidenLiteral<V>], Tx>;
  }
}

defineOperator('reduceByKeyAndWindow', reduceByKeyAndWindow);
