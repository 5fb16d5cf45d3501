import { defineOperator, type DStream } from '../graph';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.mapValues(fn)`: each `[key, value]` pair becomes `[key, fn(value)]`. Fused with neighbouring narrow operators. */
export function mapValues<K, V, W>(source: DStream<readonly [K, V]>, fn: (value: V) => W): DStream<[K, W]> {
  requireFunction('mapValues', 'fn', fn, 'Pass a function from a value to its replacement; the key is kept.');
  return source.derive(FusedNode.append<[K, W]>(source, { kind: 'mapValues', name: 'mapValues', fn }));
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * `[key, fn(value)]` for every `[key, value]` pair. Fused.
     *
     * @example
     * const lengths = pairs.mapValues((text) => text.length);
     */
    mapValues<K, V, W>(this: DStream<readonly [K, V], Tx>, fn: (value: V) => W): DStream<[K, W], Tx>;
  }
}

defineOperator('mapValues', mapValues);
