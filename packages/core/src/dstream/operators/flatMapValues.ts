import { defineOperator, type DStream } from '../graph';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.flatMapValues(fn)`: `[key, value]` becomes one `[key, w]` per element `w` of `fn(value)`. Fused. */
export function flatMapValues<K, V, W>(source: DStream<readonly [K, V]>, fn: (value: V) => Iterable<W>): DStream<[K, W]> {
  requireFunction('flatMapValues', 'fn', fn, 'Pass a function returning an iterable of values per value; the key is kept.');
  return source.derive(
    FusedNode.append<[K, W]>(source, { kind: 'flatMapValues', name: 'flatMapValues', fn }),
  );
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * One `[key, w]` per element `w` of the iterable `fn(value)`, for every `[key, value]` pair. Fused.
     *
     * @example
     * const tags = posts.flatMapValues((post) => post.tags);
     */
    flatMapValues<K, V, W>(this: DStream<readonly [K, V], Tx>, fn: (value: V) => Iterable<W>): DStream<[K, W], Tx>;
  }
}

defineOperator('flatMapValues', flatMapValues);
