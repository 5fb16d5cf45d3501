import { defineOperator, type DStream } from '../graph';
import { reducedWindowStream } from '../ReducedWindowNode';
import { requireWindowDurations } from '../requireWindowDurations';
import type { StateNameOptions } from '../../state/StateRegistry';

const withOne = <T>(record: T): readonly [T, number] => [record, 1];
const add = (a: number, b: number): number => a + b;
const subtract = (a: number, b: number): number => a - b;
const isPresent = (pair: [unknown, number]): boolean => pair[1] !== 0;

/**
 * `source.countByValueAndWindow(windowMs, slideMs)`: every `slideMs`, one `[value, count]` per
 * distinct record in `(time - windowMs, time]`, counted incrementally; values whose count fell to
 * 0 are dropped (Spark's `countByValueAndWindow`). Records compared with `Map` semantics.
 */
export function countByValueAndWindow<T>(
  source: DStream<T>,
  windowMs: number,
  slideMs: number = source.slideDurationMs,
  options: StateNameOptions = {},
): DStream<[T, number]> {
  const operator = 'countByValueAndWindow';
  requireWindowDurations(operator, source as DStream<unknown>, windowMs, slideMs);
  return reducedWindowStream<T, number>(source.map(withOne), {
    operator,
    reduce: add,
    invReduce: subtract,
    filter: isPresent,
    windowMs,
    slideMs,
    name: options.name,
  });
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Every `slideMs` (default: this stream's slide), one `[record, count]` per distinct record in
     * `(time - windowMs, time]`, counted incrementally; records whose count fell to 0 are dropped.
     *
     * @example
     * pages.countByValueAndWindow(300_000, 60_000);
     */
    countByValueAndWindow(windowMs: number, slideMs?: number, options?: StateNameOptions): DStream<[T, number], Tx>;
  }
}

defineOperator('countByValueAndWindow', countByValueAndWindow);
