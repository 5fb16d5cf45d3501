import type { DStream } from '../DStream';
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
