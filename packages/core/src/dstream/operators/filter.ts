import { DStream } from '../DStream';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.filter(fn)`: the records for which `fn` returns a truthy value. Fused with neighbouring narrow operators. */
export function filter<T>(source: DStream<T>, fn: (record: T) => unknown): DStream<T> {
  requireFunction('filter', 'fn', fn, 'Pass a predicate that returns true for the records to keep.');
  return new DStream(source.context, FusedNode.append<T>(source, { kind: 'filter', name: 'filter', fn }));
}
