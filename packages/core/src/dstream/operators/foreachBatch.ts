import type { BatchContext } from '../../context/types';
import type { DStream } from '../DStream';
import { registerOutput } from '../registerOutput';
import { requireFunction } from '../requireFunction';

/** `source.foreachBatch(fn)`: runs `fn` on every batch's records with its `BatchContext` (Spark's foreachRDD). */
export function foreachBatch<T, Tx = unknown>(
  source: DStream<T>,
  fn: (records: readonly T[], batch: BatchContext<Tx>) => void | Promise<void>,
): void {
  requireFunction(
    'foreachBatch',
    'fn',
    fn,
    'Pass a function receiving (records, batch) that writes the batch out, e.g. (records, { time }) => sink.write(time, records).',
  );
  registerOutput(source, 'foreachBatch', (records, batch) => fn(records, batch as BatchContext<Tx>));
}
