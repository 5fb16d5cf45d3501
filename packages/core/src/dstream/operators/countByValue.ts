import { DStream } from '../DStream';
import { batchOf } from '../batchOf';
import { derivedNode } from '../derivedNode';

/** `source.countByValue()`: one `[value, count]` per distinct value of the batch, in first-seen order. */
export function countByValue<T>(source: DStream<T>): DStream<[T, number]> {
  return new DStream(
    source.context,
    derivedNode<[T, number]>('countByValue', [source], async (time) => {
      const counts = new Map<T, number>();
      for (const record of await batchOf(source, time)) counts.set(record, (counts.get(record) ?? 0) + 1);
      return [...counts];
    }),
  );
}
