/** How big fetched records are in memory, per partition, as the fetcher and the batch planner reckon it. */
import { type TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';

/**
 * What a fetched record is reckoned to cost in memory beyond its key and value bytes: the record
 * object, the deserialized value's string header or Buffer view, the key's Buffer view on pooled
 * memory (`compactBuffer`), and the garbage collector's slack. Measured: ~460 bytes of resident
 * memory per record of a 10-byte key and a 100-byte string value (docs/benchmarks.md); it keeps
 * byte budgets honest for small records.
 */
export const RECORD_OVERHEAD_BYTES = 350;

/** Halving the totals past this many records lets the average follow a change in record size. */
const SIZE_WINDOW_RECORDS = 20_000;

/** Records' size seen lately on one partition. */
export interface SizeEstimate {
  bytes: number;
  records: number;
}

/**
 * Estimated bytes per record of each partition ever read (revoked ones too: a partition's records
 * keep their size when it comes back), from the key and value bytes the client reported.
 */
export class RecordSizes {
  private readonly sizes = new Map<string, SizeEstimate>();

  /** The running estimate of a partition (by `topicPartitionKey`) to add records to with `count`. */
  of(key: string): SizeEstimate {
    let size = this.sizes.get(key);
    if (size === undefined) {
      size = { bytes: 0, records: 0 };
      this.sizes.set(key, size);
    } else if (size.records >= SIZE_WINDOW_RECORDS) {
      size.bytes /= 2;
      size.records /= 2;
    }
    return size;
  }

  /** Adds one record of `bytes` key and value bytes to an estimate `of` returned. */
  static count(size: SizeEstimate, bytes: number): void {
    size.bytes += bytes + RECORD_OVERHEAD_BYTES;
    size.records++;
  }

  /** Estimated bytes of one record of this partition; undefined before any was read. */
  average(partition: TopicPartition): number | undefined {
    const size = this.sizes.get(topicPartitionKey(partition.topic, partition.partition));
    return size === undefined || size.records === 0 ? undefined : size.bytes / size.records;
  }
}
