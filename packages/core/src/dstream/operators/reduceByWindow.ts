import { defineOperator, type DStream } from '../graph';
import { reducedWindowStream } from '../ReducedWindowNode';
import { requireFunction } from '../requireFunction';
import type { StateNameOptions } from '../../state/StateRegistry';
import { requireWindowDurations } from '../requireWindowDurations';

/** Every record paired with one shared key: how a whole-window reduction reuses the keyed one. */
const withSharedKey = <T>(record: T): readonly [null, T] => [null, record];
const valueOf = <T>(pair: readonly [null, T]): T => pair[1];

/**
 * `source.reduceByWindow(fn, windowMs, slideMs, invFunc)`: every `slideMs`, the records in
 * `(time - windowMs, time]` folded with `fn` into one record (none for a window that never had
 * a record). With `invFunc`, updated incrementally like `reduceByKeyAndWindow`, and, as in Spark,
 * once a record was seen every later window has a value (`invFunc`'s result when the window empties).
 */
export function reduceByWindow<T>(
  source: DStream<T>,
  fn: (accumulated: T, record: T) => T,
  windowMs: number,
  slideMs: number,
  invFunc?: (accumulated: T, removed: T) => T,
  options: StateNameOptions = {},
): DStream<T> {
  const operator = 'reduceByWindow';
  requireFunction(operator, 'fn', fn, 'Pass an associative function combining two records, e.g. (a, b) => a + b.');
  requireWindowDurations(operator, source as DStream<unknown>, windowMs, slideMs);
  if (invFunc !== undefined) {
    requireFunction(operator, 'invFunc', invFunc, 'Pass the inverse of fn, e.g. (a, b) => a - b for a sum, or leave it out.');
  }
  return reducedWindowStream<null, T>(source.map(withSharedKey), {
    operator,
    reduce: fn,
    invReduce: invFunc,
    filter: undefined,
    windowMs,
    slideMs,
    name: options.name,
  }).map(valueOf);
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Every `slideMs`, the records of `(time - windowMs, time]` folded with `fn` into one record
     * (none if no record was ever seen). With `invFunc`, the inverse of `fn`, each window is the
     * previous one plus the new batches minus the old ones, and once a record was seen every window
     * has a value, as in Spark.
     *
     * @example
     * amounts.reduceByWindow((a, b) => a + b, 60_000, 10_000, (a, b) => a - b);
     */
    reduceByWindow(
      fn: (accumulated: T, record: T) => T,
      windowMs: number,
      slideMs: number,
      invFunc?: (accumulated: T, removed: T) => T,
      options?: StateNameOptions,
    ): DStream<T, Tx>;
  }
}

defineOperator('reduceByWindow', reduceByWindow);
