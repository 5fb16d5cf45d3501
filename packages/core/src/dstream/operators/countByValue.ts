import { defineOperator, type DStream, type DStreamNode } from '../graph';
import { forEachRecord } from '../FusedNode';
import { derivedNode } from '../derivedNode';
import { KeyPartitions } from '../sourcePartitions';

/** `source.countByValue()`: one `[value, count]` per distinct value of the batch, in first-seen order. */
export function countByValue<T>(source: DStream<T>): DStream<[T, number]> {
  const node: DStreamNode<[T, number]> = {
    ...derivedNode<[T, number]>('countByValue', [source], async (time) => {
      const counts = new Map<T, number>();
      // Source partitions only for a stateful operator downstream that keeps state per partition.
      const partitions = node.checksKeyPartitions === true ? new KeyPartitions<T>('countByValue') : undefined;
      // Counted as the records are produced (map-side combine), never gathered into one array.
      await forEachRecord(
        source,
        time,
        (record) => {
          partitions?.note(record);
          counts.set(record, (counts.get(record) ?? 0) + 1);
        },
        partitions?.onPartition,
      );
      return partitions === undefined ? [...counts] : partitions.order([...counts]);
    }),
    keepsSourcePartitions: true,
    foldsRecords: true,
  };
  return source.derive(node);
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * One `[value, count]` per distinct record of the batch, in first-seen order. Records are
     * compared with `Map` semantics (SameValueZero: primitives by value, objects by identity).
     *
     * @example
     * words.countByValue(); // batch ['a', 'b', 'a'] → [['a', 2], ['b', 1]]
     */
    countByValue(): DStream<[T, number], Tx>;
  }
}

defineOperator('countByValue', countByValue);
