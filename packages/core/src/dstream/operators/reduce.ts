import { defineOperator, type DStream } from '../graph';
import { forEachRecord } from '../FusedNode';
import { derivedNode } from '../derivedNode';
import { requireFunction } from '../requireFunction';
import { userFunctionError } from '../userFunctionError';

/** `source.reduce(fn)`: the batch folded by `fn` in the order its records come; no record for an empty batch. */
export function reduce<T>(source: DStream<T>, fn: (accumulated: T, record: T) => T): DStream<T> {
  requireFunction('reduce', 'fn', fn, 'Pass an associative function combining two records into one, e.g. (a, b) => a + b.');
  return source.derive({
    ...derivedNode<T>('reduce', [source], async (time) => {
      let isEmpty = true;
      let accumulated: T | undefined;
      // Folded as the records are produced (map-side combine), never gathered into one array.
      await forEachRecord(source, time, (record) => {
        if (isEmpty) {
          isEmpty = false;
          accumulated = record;
          return;
        }
        try {
          accumulated = fn(accumulated as T, record);
        } catch (cause) {
          throw userFunctionError('reduce', cause, record);
        }
      });
      return isEmpty ? [] : [accumulated as T];
    }),
    foldsRecords: true,
  });
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * The batch's records folded with `fn` in the order they come: one record, or none for an
     * empty batch. A streamed Kafka batch comes with its partitions interleaved (each in offset
     * order), so `fn` should be associative and commutative, as Spark's `reduce` requires.
     *
     * @example
     * amounts.reduce((a, b) => a + b);
     */
    reduce(fn: (accumulated: T, record: T) => T): DStream<T, Tx>;
  }
}

defineOperator('reduce', reduce);
