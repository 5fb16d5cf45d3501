import type { BatchContext } from '../context/types';
import type { DStream } from './DStream';
import { batchOf } from './batchOf';

/**
 * Registers an output operation on `source`'s context that hands each batch's records and
 * `BatchContext` to `run`: the one way every output operator (foreachBatch, print,
 * saveAsTextFiles, batches$) joins the graph.
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
      return run(await batchOf(source, batch.time), batch);
    },
  });
}
