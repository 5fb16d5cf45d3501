import { DStream } from '../DStream';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.flatMap(fn)`: every element of the iterable `fn` returns per record. Fused with neighbouring narrow operators. */
export function flatMap<T, U>(source: DStream<T>, fn: (record: T) => Iterable<U>): DStream<U> {
  requireFunction('flatMap', 'fn', fn, 'Pass a function returning an iterable (an array, a Set, a generator) per record.');
  return new DStream(source.context, FusedNode.append<U>(source, { kind: 'flatMap', name: 'flatMap', fn }));
}
