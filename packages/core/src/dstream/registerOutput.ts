import type { BatchContext } from '../context/types';
import type { DStream } from './graph';

/**
 * Registers an output operation on `source`'s context that hands each batch's records and
 * `BatchContext` to `run`: the one way every output operator (foreachBatch, print,
 * saveAsTextFiles, batches$) joins the graph. Outputs run at the batches of `source`'s slide.
 */
export function registerOutput<T>(
  source: DStream<T>,
  name: string,
  run: (records: readonly T[], batch: BatchContext) => void | Promise<void>,
): void {
  source.context.assertCanAddOperation(name);
  source.context.registerOutput({
    name,
    stream: source,
    run: async (batch) => {
      // Windows and state upstream take in this batch's parents now, even off their own slide.
      await source.prepare(batch.time);
      // A stream sliding slower than the batch interval (a window) has no batch at the other
      // times, and its outputs do not run then (Spark's generateJob returns None).
      const records = source.getOrCompute(batch.time);
      if (records !== undefined) await run(await records, batch);
    },
  });
}
