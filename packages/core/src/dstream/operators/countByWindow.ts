import { defineOperator, type DStream } from '../graph';
import { reducedWindowStream } from '../ReducedWindowNode';
import { requireWindowDurations } from '../requireWindowDurations';
import type { StateNameOptions } from '../../state/StateRegistry';

const ONE_UNDER_SHARED_KEY: readonly [null, number] = [null, 1];
const one = (): readonly [null, number] => ONE_UNDER_SHARED_KEY;
const add = (a: number, b: number): number => a + b;
const subtract = (a: number, b: number): number => a - b;
/** Exactly one record per window, 0 for an empty one, as `count()` gives for an empty batch. */
const countOf = (pairs: readonly (readonly [null, number])[]): number[] => [pairs.length === 0 ? 0 : pairs[0][1]];

/**
 * `source.countByWindow(windowMs, slideMs)`: every `slideMs`, one record, the number of records in
 * `(time - windowMs, time]`, counted incrementally (Spark's `countByWindow`, which adds the new
 * batches' counts and subtracts the old ones').
 */
export function countByWindow<T>(
  source: DStream<T>,
  windowMs: number,
  slideMs: number,
  options: StateNameOptions = {},
): DStream<number> {
  const operator = 'countByWindow';
  requireWindowDurations(operator, source as DStream<unknown>, windowMs, slideMs);
  return reducedWindowStream<null, number>(source.map(one), {
    operator,
    reduce: add,
    invReduce: subtract,
    filter: undefined,
    windowMs,
    slideMs,
    name: options.name,
  }).mapPartitions(countOf);
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Every `slideMs`, one record: how many records `(time - windowMs, time]` holds (0 when none).
     * Counted incrementally: each slide adds the counts of the batches that entered the window and
     * subtracts those of the batches that left it.
     *
     * @example
     * clicks.countByWindow(60_000, 5_000);
     */
    countByWindow(windowMs: number, slideMs: number, options?: StateNameOptions): DStream<number, Tx>;
  }
}

defineOperator('countByWindow', countByWindow);
