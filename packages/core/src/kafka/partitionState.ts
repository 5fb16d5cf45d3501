/** What the fetcher keeps of one assigned partition. */
import { type TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { ConsumeResult, FetchedRecord } from './KafkaClient';
import { RecordSizes, type SizeEstimate } from './RecordSizes';

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

/**
 * Files what one `consume` brought into the buffers of the partitions it belongs to (by
 * `topicPartitionKey`), counting record sizes into `sizes`: records of a partition that is not
 * read, or is seeking, are dropped, as are offsets already seen; a partition found at its log end
 * has read through it.
 */
export function fileConsumeResult<R extends FetchedRecord>(
  partitions: ReadonlyMap<string, PartitionState<R>>,
  sizes: RecordSizes,
  result: ConsumeResult<R>,
): void {
  const { messages } = result;
  let state: PartitionState<R> | undefined;
  let size: SizeEstimate | undefined;
  let lastTopic: string | undefined;
  let lastPartition = -1;
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index];
    // A consume result comes in runs of one partition's records: look its state up once per run.
    if (message.partition !== lastPartition || message.topic !== lastTopic) {
      lastTopic = message.topic;
      lastPartition = message.partition;
      const key = topicPartitionKey(message.topic, message.partition);
      state = partitions.get(key);
      size = sizes.of(key);
    }
    if (state === undefined || state.seekTo !== undefined) continue;
    // Already seen: drop rather than deliver twice.
    if (message.offset < state.readThrough) continue;
    state.buffer.push(message);
    state.readThrough = message.offset + 1;
    if (message.offset >= state.neededUntil) state.readAhead++;
    RecordSizes.count(size!, result.sizes[index]);
  }
  for (const end of result.endsReached) {
    const state = partitions.get(topicPartitionKey(end.topic, end.partition));
    if (state === undefined || state.seekTo !== undefined) continue;
    // At the log end every lower offset has been delivered or was never a record (a
    // transaction marker, a compacted record), so the range may be complete without a record at until-1.
    if (end.offset > state.readThrough) state.readThrough = end.offset;
  }
}
