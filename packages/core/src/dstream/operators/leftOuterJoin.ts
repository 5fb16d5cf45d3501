import type { DStream } from '../DStream';
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
