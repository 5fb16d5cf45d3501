import { DStream } from '../DStream';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.flatMapValues(fn)`: `[key, value]` becomes one `[key, w]` per element `w` of `fn(value)`. Fused. */
export function flatMapValues<K, V, W>(source: DStream<readonly [K, V]>, fn: (value: V) => Iterable<W>): DStream<[K, W]> {
  requireFunction('flatMapValues', 'fn', fn, 'Pass a function returning an iterable of values per value; the key is kept.');
  return new DStream(
    source.context,
    FusedNode.append<[K, W]>(source, { kind: 'flatMapValues', name: 'flatMapValues', fn }),
  );
}
