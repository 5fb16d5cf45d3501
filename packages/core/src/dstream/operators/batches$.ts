import { Observable, Subject } from 'rxjs';
import type { OffsetRange } from '../../offsets/OffsetRange';
import type { DStream } from '../DStream';
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
