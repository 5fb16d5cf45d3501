import { defineOperator, type DStream } from '../graph';
import { cogroupedStream } from './cogroup';
import { NO_MATCH, pushPairs } from './join';

/** `left.fullOuterJoin(right)`: every value of either side, paired with the other side's values of its key or `undefined`. */
export function fullOuterJoin<K, V, W>(
  left: DStream<readonly [K, V]>,
  right: DStream<readonly [K, W]>,
): DStream<[K, [V | undefined, W | undefined]]> {
  return cogroupedStream<K, V, W, [K, [V | undefined, W | undefined]]>(
    'fullOuterJoin',
    left,
    right,
    (key, values, others, output) =>
      pushPairs<K, V | undefined, W | undefined>(
        key,
        values.length > 0 ? values : NO_MATCH,
        others.length > 0 ? others : NO_MATCH,
        output,
      ),
  );
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Every value of either side, paired with each of the other side's values for its key, or
     * with `undefined` when that side lacks the key. Keys compared with `Map` semantics; this
     * stream's keys first, in first-seen order, then keys only `other` has. Same slide rule as `join`.
     *
     * @example
     * orders.fullOuterJoin(payments);
     */
    fullOuterJoin<K, V, W>(
      this: DStream<readonly [K, V], Tx>,
      other: DStream<readonly [K, W]>,
    ): DStream<[K, [V | undefined, W | undefined]], Tx>;
  }
}

defineOperator('fullOuterJoin', fullOuterJoin);
