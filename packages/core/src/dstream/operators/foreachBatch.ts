import type { BatchContext } from '../../context/types';
import { defineOperator, type DStream } from '../graph';
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

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Runs `fn` on every batch's records and its `BatchContext` (time, offset ranges, the store
     * transaction under exactly-once): Spark's foreachRDD, the general output. The batch's offsets
     * are committed only after the returned promise resolves (at-least-once and exactly-once); a
     * throw or rejection fails the batch as it is, so a retriable error stays retriable. The
     * transaction's type is the stream's `Tx`, set by `createDirectStream` from its store and
     * delivery (see `BatchTransaction`) and kept by every operator.
     *
     * @example
     * // counts derives from an exactly-once stream on a PostgresOffsetStore: transaction is a PoolClient
     * counts.foreachBatch(async (records, { transaction }) => {
     *   for (const [word, n] of records) await transaction.query('INSERT …', [word, n]);
     * });
     */
    foreachBatch(fn: (records: readonly T[], batch: BatchContext<Tx>) => void | Promise<void>): void;
  }
}

defineOperator('foreachBatch', foreachBatch);
