import { Observable, Subject } from 'rxjs';
import type { OffsetRange } from '../../offsets/OffsetRange';
import { defineOperator, type DStream } from '../graph';
import { registerOutput } from '../registerOutput';

/** One batch as `batches$()` emits it: its time, records and the Kafka offset ranges it read. */
export interface Batch<T> {
  readonly time: number;
  readonly records: readonly T[];
  readonly offsetRanges: readonly OffsetRange[];
}

/**
 * `source.batches$()`: an output that emits every batch into a hot Observable, which completes
 * when the context stops and errors with the error that stopped it, if one did.
 */
export function batches$<T>(source: DStream<T>): Observable<Batch<T>> {
  const subject = new Subject<Batch<T>>();
  registerOutput(source, 'batches$', (records, { time, offsetRanges }) => {
    subject.next({ time, records, offsetRanges });
  });
  // Termination settles after the last batch's outputs ran, so no emission can follow the end.
  source.context.awaitTermination().then(
    () => subject.complete(),
    (error: unknown) => subject.error(error),
  );
  return subject.asObservable();
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * An output that emits every batch (`{ time, records, offsetRanges }`) into a hot Observable,
     * for RxJS code. Emission is synchronous when the batch's outputs run: the batch does not wait
     * for asynchronous work a subscriber starts, so its offsets may commit first (use `foreachBatch`
     * when results must be durable before the commit). Batches that run while nobody subscribes are
     * not replayed. The Observable completes once the context has stopped, after the last batch,
     * and errors with the error that stopped the context (a failed batch, an input that failed to
     * start or stop), as `awaitTermination()` rejects; give `subscribe` an error handler, or RxJS
     * reports that error as unhandled.
     *
     * @example
     * counts.batches$().pipe(rxMap((batch) => batch.records.length)).subscribe(console.log);
     */
    batches$(): Observable<Batch<T>>;
  }
}

defineOperator('batches$', batches$);
