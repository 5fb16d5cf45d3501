import { DStream } from '../DStream';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.mapPartitions(fn)`: `fn` over the batch's records at once (a batch is one partition). */
export function mapPartitions<T, U>(source: DStream<T>, fn: (records: readonly T[]) => Iterable<U>): DStream<U> {
  requireFunction(
    'mapPartitions',
    'fn',
    fn,
    'Pass a function from the batch\'s records to an iterable of results, e.g. (records) => records.map(parse).',
  );
  return new DStream(source.context, FusedNode.append<U>(source, { kind: 'mapPartitions', name: 'mapPartitions', fn }));
}
