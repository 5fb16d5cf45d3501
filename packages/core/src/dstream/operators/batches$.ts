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

/** `source.batches$()`: an output that emits every batch into a hot Observable. */
export function batches$<T>(source: DStream<T>): Observable<Batch<T>> {
  const subject = new Subject<Batch<T>>();
  registerOutput(source, 'batches$', (records, { time, offsetRanges }) => {
    subject.next({ time, records, offsetRanges });
  });
  return subject.asObservable();
}
