import { defineOperator, type DStream } from '../graph';
import { batchOf } from '../batchOf';
import { derivedNode } from '../derivedNode';
import { requireFunction } from '../requireFunction';
import { userFunctionError } from '../userFunctionError';

/** `source.transform(fn)`: the batch is replaced by what `fn(records, time)` returns or resolves to. */
export function transform<T, U>(
  source: DStream<T>,
  fn: (records: readonly T[], time: number) => Iterable<U> | Promise<Iterable<U>>,
): DStream<U> {
  requireFunction(
    'transform',
    'fn',
    fn,
    'Pass a function from (records, time) to an iterable of results, or a promise of one.',
  );
  return source.derive(
    derivedNode<U>('transform', [source], async (time) => {
      const records = await batchOf(source, time);
      try {
        const result = await fn(records, time);
        // Spreading (not Array.from) rejects a non-iterable result instead of reading it as empty.
        return Array.isArray(result) ? (result as readonly U[]) : [...result];
      } catch (cause) {
        throw userFunctionError('transform', cause);
      }
    }),
  );
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Each batch replaced by what `fn(records, time)` returns or resolves to (Spark's transform):
     * any batch-level logic, including asynchronous lookups. A throw or rejection becomes a
     * `RecordProcessingError` naming `transform`.
     *
     * @example
     * const enriched = events.transform(async (records) => enrich(records, await loadRates()));
     */
    transform<U>(fn: (records: readonly T[], time: number) => Iterable<U> | Promise<Iterable<U>>): DStream<U, Tx>;
  }
}

defineOperator('transform', transform);
