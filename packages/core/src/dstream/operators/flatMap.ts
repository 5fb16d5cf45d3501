import { defineOperator, type DStream } from '../graph';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.flatMap(fn)`: every element of the iterable `fn` returns per record. Fused with neighbouring narrow operators. */
export function flatMap<T, U>(source: DStream<T>, fn: (record: T) => Iterable<U>): DStream<U> {
  requireFunction('flatMap', 'fn', fn, 'Pass a function returning an iterable (an array, a Set, a generator) per record.');
  return source.derive(FusedNode.append<U>(source, { kind: 'flatMap', name: 'flatMap', fn }));
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Every element of the iterable `fn` returns for each record (an array, a Set, a generator). Fused.
     *
     * @example
     * const words = lines.flatMap((line) => line.split(' '));
     */
    flatMap<U>(fn: (record: T) => Iterable<U>): DStream<U, Tx>;
  }
}

defineOperator('flatMap', flatMap);
