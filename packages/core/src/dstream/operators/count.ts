import { DStream } from '../DStream';
import { batchOf } from '../batchOf';
import { derivedNode } from '../derivedNode';

/** `source.count()`: one record per batch, the number of records in it (0 for an empty batch). */
export function count<T>(source: DStream<T>): DStream<number> {
  return new DStream(
    source.context,
    derivedNode<number>('count', [source], async (time) => [(await batchOf(source, time)).length]),
  );
}
