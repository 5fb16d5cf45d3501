import { defineOperator, type DStream } from '../graph';
import { forEachRecord } from '../FusedNode';
import { derivedNode } from '../derivedNode';

/** `source.count()`: one record per batch, the number of records in it (0 for an empty batch). */
export function count<T>(source: DStream<T>): DStream<number> {
  return source.derive({
    ...derivedNode<number>('count', [source], async (time) => {
      // Counted as the records are produced: a fused chain's output is never gathered into an array.
      let counted = 0;
      await forEachRecord(source, time, () => {
        counted++;
      });
      return [counted];
    }),
    foldsRecords: true,
  });
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * One record per batch: how many records it has (0 for an empty batch).
     *
     * @example
     * events.count().print();
     */
    count(): DStream<number, Tx>;
  }
}

defineOperator('count', count);
