import { DStream } from '../DStream';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.map(fn)`: one output record per input record. Fused with neighbouring narrow operators. */
export function map<T, U>(source: DStream<T>, fn: (record: T) => U): DStream<U> {
  requireFunction('map', 'fn', fn, 'Pass a function from one record to its replacement, e.g. (record) => record.value.');
  return new DStream(source.context, FusedNode.append<U>(source, { kind: 'map', name: 'map', fn }));
}
