import { defineOperator, type DStream } from '../graph';
import { cogroupedStream } from './cogroup';
import { NO_MATCH, pushPairs } from './join';

/** `left.rightOuterJoin(right)`: every right value, paired with each left value of its key or `undefined`. */
export function rightOuterJoin<K, V, W>(
  left: DStream<readonly [K, V]>,
  right: DStream<readonly [K, W]>,
): DStream<[K, [V | undefined, W]]> {
  return cogroupedStream<K, V, W, [K, [V | undefined, W]]>('rightOuterJoin', left, right, (key, values, others, output) =>
    pushPairs<K, V | undefined, W>(key, values.length > 0 ? values : NO_MATCH, others, output),
  );
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Like `join`, and also `[key, [undefined, w]]` for every value `w` of `other` whose key this
     * stream lacks. Keys compared with `Map` semantics; keys found here come first, in first-seen
     * order, then keys only `other` has. Same slide rule as `join`.
     *
     * @example
     * orders.rightOuterJoin(payments); // payments without an order come with undefined
     */
    rightOuterJoin<K, V, W>(
      this: DStream<readonly [K, V], Tx>,
      other: DStream<readonly [K, W]>,
    ): DStream<[K, [V | undefined, W]], Tx>;
  }
}

defineOperator('rightOuterJoin', rightOuterJoin);
