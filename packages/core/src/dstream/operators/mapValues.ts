import { DStream } from '../DStream';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.mapValues(fn)`: each `[key, value]` pair becomes `[key, fn(value)]`. Fused with neighbouring narrow operators. */
export function mapValues<K, V, W>(source: DStream<readonly [K, V]>, fn: (value: V) => W): DStream<[K, W]> {
  requireFunction('mapValues', 'fn', fn, 'Pass a function from a value to its replacement; the key is kept.');
  return new DStream(source.context, FusedNode.append<[K, W]>(source, { kind: 'mapValues', name: 'mapValues', fn }));
}
