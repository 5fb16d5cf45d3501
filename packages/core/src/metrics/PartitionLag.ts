import { topicPartitionKey } from '../offsets/OffsetRange';
import type { InputPlannedEvent, OffsetCommitCompletedEvent } from '../scheduler/events';

/** One partition's consumer lag: records in the log past the offset committed for it. */
export interface PartitionLagEntry {
  readonly input: string;
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read, as last committed (before the first commit: where reading started). */
  readonly committedOffset: number;
  /** The log end the latest plan saw. */
  readonly logEndOffset: number;
  /** `logEndOffset - committedOffset`, never below 0: what `kafka-consumer-groups` calls LAG. */
  readonly lag: number;
}

interface Entry {
  input: string;
  topic: string;
  partition: number;
  committedOffset: number;
  logEndOffset: number;
}

/**
 * Consumer lag per partition, from listener events: the log end of each plan (InputPlanned) and
 * the offsets each commit wrote (OffsetCommitCompleted). A partition left out of its input's
 * latest plan (revoked in a rebalance) is dropped. Shared by the metrics and the UI, so both show
 * the same numbers.
 */
export class PartitionLag {
  private readonly entries = new Map<string, Entry>();

  /** Records a plan's log ends; returns the partitions of that input that are no longer planned. */
  planned(event: InputPlannedEvent): PartitionLagEntry[] {
    const planned = new Set<string>();
    for (const p of event.partitions) {
      const key = topicPartitionKey(p.topic, p.partition);
      planned.add(key);
      const entry = this.entries.get(key);
      if (entry === undefined || entry.input !== event.input) {
        this.entries.set(key, { input: event.input, topic: p.topic, partition: p.partition, committedOffset: p.fromOffset, logEndOffset: p.logEndOffset });
      } else {
        entry.logEndOffset = p.logEndOffset;
      }
    }
    const removed: PartitionLagEntry[] = [];
    for (const [key, entry] of this.entries) {
      if (entry.input !== event.input || planned.has(key)) continue;
      this.entries.delete(key);
      removed.push(toLag(entry));
    }
    return removed;
  }

  /** Records the offsets a successful commit wrote; returns the partitions whose lag changed. */
  committed(event: OffsetCommitCompletedEvent): PartitionLagEntry[] {
    if (event.outcome !== 'committed') return [];
    const changed: PartitionLagEntry[] = [];
    for (const range of event.offsetRanges) {
      const entry = this.entries.get(range.key);
      if (entry === undefined) continue;
      entry.committedOffset = range.untilOffset;
      changed.push(toLag(entry));
    }
    return changed;
  }

  /** Every tracked partition, by topic then partition. */
  list(): PartitionLagEntry[] {
    return [...this.entries.values()]
      .map(toLag)
      .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }
}

function toLag(entry: Entry): PartitionLagEntry {
  return { ...entry, lag: Math.max(0, entry.logEndOffset - entry.committedOffset) };
}
