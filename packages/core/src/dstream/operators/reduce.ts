import { DStream } from '../DStream';
import { batchOf } from '../batchOf';
import { derivedNode } from '../derivedNode';
import { requireFunction } from '../requireFunction';
import { userFunctionError } from '../userFunctionError';

/** `source.reduce(fn)`: the batch folded left to right by `fn`; no record for an empty batch. */
export function reduce<T>(source: DStream<T>, fn: (accumulated: T, record: T) => T): DStream<T> {
  requireFunction('reduce', 'fn', fn, 'Pass an associative function combining two records into one, e.g. (a, b) => a + b.');
  return new DStream(
    source.context,
    derivedNode<T>('reduce', [source], async (time) => {
      const records = await batchOf(source, time);
      if (records.length === 0) return [];
      let accumulated = records[0];
      let index = 1;
      try {
        for (; index < records.length; index++) accumulated = fn(accumulated, records[index]);
      } catch (cause) {
        throw userFunctionError('reduce', cause, records[index]);
      }
      return [accumulated];
    }),
  );
}
