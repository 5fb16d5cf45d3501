import type { DStream } from '../DStream';
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
