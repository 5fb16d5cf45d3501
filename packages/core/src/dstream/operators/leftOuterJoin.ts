import { defineOperator, type DStream } from '../graph';
import { cogroupedStream } from './cogroup';
import { NO_MATCH, pushPairs } from './join';

/** `left.leftOuterJoin(right)`: every left value, paired with each right value of its key or `undefined`. */
export function leftOuterJoin<K, V, W>(
  left: DStream<readonly [K, V]>,
  right: DStream<readonly [K, W]>,
): DStream<[K, [V, W | undefined]]> {
  return cogroupedStream<K, V, W, [K, [V, W | undefined]]>('leftOuterJoin', left, right, (key, values, others, output) =>
    pushPairs<K, V, W | undefined>(key, values, others.length > 0 ? others : NO_MATCH, output),
  );
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Like `join`, and also `[key, [v, undefined]]` for every value `v` whose key `other` lacks.
     * Keys compared with `Map` semantics; same ordering and slide rules as `join`.
     *
     * @example
     * orders.leftOuterJoin(payments); // unpaid orders come with undefined
     */
    leftOuterJoin<K, V, W>(
      this: DStream<readonly [K, V], Tx>,
      other: DStream<readonly [K, W]>,
    ): DStream<[K, [V, W | undefined]], Tx>;
  }
}

defineOperator('leftOuterJoin', leftOuterJoin);
