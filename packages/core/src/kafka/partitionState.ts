/** What the fetcher keeps of one assigned partition. */
import type { TopicPartition } from '../offsets/OffsetRange';
import type { FetchedRecord } from './KafkaClient';

/** One assigned partition's read state. */
export interface PartitionState<R extends FetchedRecord> {
  readonly partition: TopicPartition;
  /** Fetched records at or after `bufferStart`, in offset order. */
  buffer: R[];
  /** The offset the buffer starts at: everything before it was handed out or skipped. */
  bufferStart: number;
  /**
   * Every offset below this has been seen (as a record, or passed over: a compaction gap, a
   * transaction marker, or the log end). A range is complete once this reaches its `until`.
   */
  readThrough: number;
  /**
   * A seek the fetch loop must make before its next `consume`. While set, records arriving for the
   * partition come from the old position (a `consume` already in flight) and are dropped.
   */
  seekTo: number | undefined;
  isPaused: boolean;
  /**
   * The `until` of the furthest range a `take` is waiting for (or took): records below it are what
   * a batch needs, records at or above it are read-ahead, the only ones the buffer limit bounds.
   */
  neededUntil: number;
  /** Buffered records at or after `neededUntil`. */
  readAhead: number;
}

/** The index of the first buffered record at or after `offset` (buffers are in offset order). */
export function firstAtOrAfter(buffer: readonly FetchedRecord[], offset: number): number {
  let low = 0;
  let high = buffer.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (buffer[middle].offset < offset) low = middle + 1;
    else high = middle;
  }
  return low;
}
