import { OffsetRange, TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';

/** Where one partition stands when a batch is planned. */
export interface PartitionPosition extends TopicPartition {
  /** The next offset to read: the previous batch's `until`, or the reconciled start. */
  readonly fromOffset: number;
  /** The log end (high watermark) just queried. */
  readonly latestOffset: number;
}

/** The rate limits in force for one batch, all in records per second. */
export interface RateLimits {
  /** Hard per-partition cap (`maxRatePerPartition`); undefined: none. */
  readonly maxRatePerPartition?: number;
  /** Per-partition floor (`minRatePerPartition`) applied whenever some limit is in force. */
  readonly minRatePerPartition?: number;
  /**
   * The stream-wide rate from backpressure (the estimator's latest rate, or `initialRate` before
   * it has one); undefined when backpressure is off or has no rate yet.
   */
  readonly streamRate?: number;
}

/**
 * How many records each partition may contribute to one batch, as Spark's
 * `DirectKafkaInputDStream.maxMessagesPerPartition`: a stream-wide backpressure rate is split
 * between partitions in proportion to their lag and capped by `maxRatePerPartition`; with no
 * backpressure rate, `maxRatePerPartition` alone applies. The result is rate × batch interval,
 * never below `minRatePerPartition` × interval, and at least 1 so a lagging partition always
 * moves. Undefined means no limit.
 */
export function maxMessagesPerPartition(
  positions: readonly PartitionPosition[],
  limits: RateLimits,
  batchIntervalMs: number,
): Map<string, number> | undefined {
  const perPartitionRate = new Map<string, number>();
  const { streamRate, maxRatePerPartition } = limits;
  if (streamRate !== undefined && streamRate > 0) {
    const lags = positions.map((p) => Math.max(p.latestOffset - p.fromOffset, 0));
    const totalLag = lags.reduce((sum, lag) => sum + lag, 0);
    positions.forEach((p, index) => {
      const backpressureRate = totalLag === 0 ? 0 : (lags[index] / totalLag) * streamRate;
      perPartitionRate.set(topicPartitionKey(p.topic, p.partition), maxRatePerPartition === undefined ? backpressureRate : Math.min(backpressureRate, maxRatePerPartition));
    });
  } else if (maxRatePerPartition !== undefined) {
    for (const p of positions) perPartitionRate.set(topicPartitionKey(p.topic, p.partition), maxRatePerPartition);
  } else {
    return undefined;
  }
  const seconds = batchIntervalMs / 1000;
  const floor = (limits.minRatePerPartition ?? 0) * seconds;
  const result = new Map<string, number>();
  for (const [key, rate] of perPartitionRate) result.set(key, Math.max(1, Math.floor(Math.max(rate * seconds, floor))));
  return result;
}

/**
 * How many records each partition may contribute to one batch so that the batch's records fit in
 * `maxBatchBytes`: the budget is split between partitions in proportion to their lag (as a
 * backpressure rate is), and each share is divided by that partition's estimated bytes per
 * record. At least 1, so a lagging partition always moves.
 */
export function maxMessagesForBytes(
  positions: readonly PartitionPosition[],
  maxBatchBytes: number,
  bytesPerRecord: (partition: TopicPartition) => number,
): Map<string, number> {
  const lags = positions.map((p) => Math.max(p.latestOffset - p.fromOffset, 0));
  const totalLag = lags.reduce((sum, lag) => sum + lag, 0);
  const result = new Map<string, number>();
  positions.forEach((p, index) => {
    const share = totalLag === 0 ? 0 : (lags[index] / totalLag) * maxBatchBytes;
    result.set(topicPartitionKey(p.topic, p.partition), Math.max(1, Math.floor(share / bytesPerRecord(p))));
  });
  return result;
}

/** The smaller of two per-partition caps, partition by partition (undefined: no cap). */
export function tighterCaps(
  a: ReadonlyMap<string, number> | undefined,
  b: ReadonlyMap<string, number> | undefined,
): Map<string, number> | undefined {
  if (a === undefined) return b === undefined ? undefined : new Map(b);
  const result = new Map(a);
  if (b === undefined) return result;
  for (const [key, cap] of b) result.set(key, Math.min(cap, result.get(key) ?? Infinity));
  return result;
}

/**
 * One batch's ranges, one per partition: `[from, min(latest, from + maxMessages))`. A partition
 * whose log end lies below `from` gets an empty range at `from`; reconciliation handles that case
 * before planning.
 */
export function planOffsetRanges(
  positions: readonly PartitionPosition[],
  maxMessages: ReadonlyMap<string, number> | undefined,
): OffsetRange[] {
  return positions.map((p) => {
    const cap = maxMessages?.get(topicPartitionKey(p.topic, p.partition));
    const latest = Math.max(p.latestOffset, p.fromOffset);
    const until = cap === undefined ? latest : Math.min(latest, p.fromOffset + cap);
    return OffsetRange.create(p.topic, p.partition, p.fromOffset, until);
  });
}
