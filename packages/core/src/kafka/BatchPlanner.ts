/**
 * Plans each batch of a Kafka direct stream: one `OffsetRange` per owned partition, from where the
 * previous batch ended up to the log end, within the rate limits (`maxRatePerPartition`,
 * backpressure) and the byte budget `maxBatchBytes`. Spark's `DirectKafkaInputDStream.compute`
 * and `maxMessagesPerPartition` are the reference.
 */
import type { DeadLetter } from '../offsets/DeadLetter';
import type { BatchInfo } from '../scheduler/events';
import { OffsetRange, TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { ResolvedDirectStreamOptions } from './DirectStreamOptions';
import type { KafkaConsumerClient, WatermarkOffsets } from './KafkaClient';
import { type PartitionFetcher, RECORD_OVERHEAD_BYTES } from './PartitionFetcher';
import type { Claim, PartitionOwnership } from './PartitionOwnership';
import { PIDRateEstimator } from './PIDRateEstimator';
import type { StartOffsets } from './StartOffsets';

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

/** The larger of two per-partition caps, partition by partition; a partition only one caps keeps that cap. */
export function looserCaps(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): Map<string, number> {
  const result = new Map(a);
  for (const [key, cap] of b) result.set(key, Math.max(cap, result.get(key) ?? 0));
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

/** Batches in a row a partition may be left out of because its log bounds could not be read. */
const MAX_PLANNING_FAILURES = 20;

/**
 * Bytes per record assumed for a partition of which nothing was fetched yet: large enough that a
 * first batch of unknown records stays within its budget unless they exceed ~4 KiB.
 */
const UNKNOWN_RECORD_BYTES = 4096 + RECORD_OVERHEAD_BYTES;

/** Batches of fewer records say too little of the processing rate to size the next from (see `BatchPlanner.onBatchCompleted`). */
const CATCH_UP_MIN_RECORDS = 1000;

/** How much a streamed batch may grow over the one before, at most: a rate seen once may be noise. */
const CATCH_UP_MAX_GROWTH = 4;

/** A record the dead-letter policy set aside in one batch; the payload is filled in when the batch is read again. */
export interface DeadRecord {
  letter: DeadLetter;
}

/** What one batch reads, fixed when it is planned, and what its runs learn about it. */
export interface PlannedBatch {
  readonly time: number;
  readonly ranges: readonly OffsetRange[];
  /** The ownership token of each partition when the batch was planned (see `PartitionOwnership`). */
  readonly tokens: ReadonlyMap<string, number>;
  /** The log end each range's partition had when planned, in the order of `ranges`. */
  readonly logEndOffsets: readonly number[];
  /**
   * The ranges the batch delivers and commits: those of its partitions still owned under the
   * same token when it starts running. Fixed once, so the outputs, the commit and the batch's
   * report all cover the same records whatever rebalances happen meanwhile.
   */
  claimed: (Claim & { finish(): void }) | undefined;
  /** Records actually read; known once the batch was computed. */
  numRecords: number | undefined;
  /** Failed runs charged to each record (`deadLetterId`), under the dead-letter policy. */
  readonly attempts: Map<string, number>;
  /** Records set aside (`deadLetterId`): the batch is read without them and commits their letters. */
  readonly dead: Map<string, DeadRecord>;
}

/**
 * Fixes each batch's ranges from the owned partitions' next offsets and their log ends, and keeps
 * the backpressure rate estimator (Spark's `RateController`) that sizes them.
 */
export class BatchPlanner {
  /** Failed bound queries in a row, per partition (see `queryBounds`). */
  private readonly planningFailures = new Map<string, number>();
  private readonly estimator: PIDRateEstimator | undefined;
  /**
   * Records per millisecond that streamed batches went through lately (smoothed): what sizes a
   * streamed batch while the stream catches up. Undefined until a batch told.
   */
  private catchUpRate: number | undefined;
  /** Records of each batch planned and not yet completed, by batch time, in time order (see `expectedDelayMs`). */
  private readonly outstanding = new Map<number, number>();
  /** When the last completed batch ended, ms. */
  private lastEndMs = 0;
  /** Times of planned batches that left records behind (a cap cut them): only those tell the catch-up rate. */
  private readonly cappedTimes = new Set<number>();

  constructor(
    private readonly name: string,
    private readonly client: KafkaConsumerClient,
    private readonly ownership: PartitionOwnership,
    private readonly starts: StartOffsets,
    private readonly fetcher: Pick<PartitionFetcher<never>, 'averageRecordBytes'>,
    private readonly options: ResolvedDirectStreamOptions<unknown, unknown>,
    private readonly batchIntervalMs: number,
    /** Whether the stream's batches stream (`DirectKafkaInputDStream.streamBatch`) rather than being held whole. */
    private readonly isStreamed: () => boolean = () => false,
  ) {
    this.estimator = options.backpressure.enabled ? new PIDRateEstimator(batchIntervalMs, options.backpressure.pid) : undefined;
  }

  /** Batch `time`'s ranges: from each owned partition's next offset up to the log end, within the rate limits. */
  async plan(time: number): Promise<PlannedBatch> {
    const { ownership } = this;
    const tokens = ownership.plannable();
    const positions: PartitionPosition[] = [];
    for (const key of [...tokens.keys()]) {
      const p = parseKey(key);
      // Plan from the bounds librdkafka cached from its last fetch of the partition: reading them
      // blocks nothing. Querying the leader instead takes a threadpool thread for as long as the
      // consumer's fetch in flight (up to fetch.wait.max.ms), and one query per partition at once
      // starves the fetch loop's consume() of threads. A stale cache (a paused partition) only
      // makes the batch smaller. Only the leader decides that an offset is out of range, so a
      // cache that does not contain `next` is confirmed by a query, as is a partition never fetched.
      // A rebalance while an earlier partition's bounds were queried may have moved this one.
      const next = ownership.nextOffset(key, tokens.get(key));
      if (next === undefined) {
        tokens.delete(key);
        continue;
      }
      let bounds = this.client.cachedWatermarkOffsets(p);
      if (bounds === undefined || next < bounds.low || next > bounds.high) {
        // One at a time: the queries would otherwise take all of libuv's threads together.
        const queried = await this.queryBounds(p);
        // A rebalance during the query may have moved the partition: plan it next time.
        if (queried === undefined || ownership.nextOffset(key, tokens.get(key)) === undefined) {
          tokens.delete(key);
          continue;
        }
        bounds = queried;
      }
      const from = this.starts.checkInRange(p, ownership.nextOffset(key, tokens.get(key))!, bounds, 'next');
      positions.push({ ...p, fromOffset: from, latestOffset: bounds.high });
    }
    const { backpressure, maxRatePerPartition, minRatePerPartition, maxBatchBytes } = this.options;
    const streamRate = this.estimator ? (this.estimator.latestRateLimit ?? backpressure.initialRate) : undefined;
    const rateCaps = maxMessagesPerPartition(positions, { streamRate, maxRatePerPartition, minRatePerPartition }, this.batchIntervalMs);
    // Whatever the lag, a batch holds at most maxBatchBytes: sized from the records fetched so
    // far, or, for a partition none was fetched of yet (the first batch), a cautious guess.
    const byteCaps = maxMessagesForBytes(positions, maxBatchBytes, (p) => this.fetcher.averageRecordBytes(p) ?? UNKNOWN_RECORD_BYTES);
    const catchUpCaps = this.catchUpCaps(time, positions);
    const sizeCaps = catchUpCaps === undefined ? byteCaps : looserCaps(byteCaps, catchUpCaps);
    const ranges = planOffsetRanges(positions, tighterCaps(rateCaps, sizeCaps));
    if (ranges.some((range, index) => range.untilOffset < positions[index].latestOffset)) this.cappedTimes.add(time);
    for (const range of ranges) ownership.advance(range.key, range.untilOffset, tokens.get(range.key));
    this.outstanding.set(time, ranges.reduce((records, range) => records + range.count, 0));
    return {
      time,
      ranges,
      tokens,
      logEndOffsets: positions.map((p) => p.latestOffset),
      claimed: undefined,
      numRecords: undefined,
      attempts: new Map(),
      dead: new Map(),
    };
  }

  /**
   * A streamed batch's records are never held whole, so `maxBatchBytes` does not bound it: while
   * the stream catches up, it holds what the batches went through lately in the time from its
   * expected start to the next batch time (an interval, less the delay it is expected to start
   * with, at most half an interval), as Spark's backpressure sizes batches from their processing
   * rate: each batch is meant to end as the next is due, so the job neither waits for a tick nor
   * falls behind. Never below the byte budget's caps. Undefined (the byte budget alone applies)
   * for a stream whose batches are held whole, and until a batch that left records behind told
   * the rate: the first batch after downtime is cut to `maxBatchBytes`.
   */
  private catchUpCaps(time: number, positions: readonly PartitionPosition[]): Map<string, number> | undefined {
    if (this.catchUpRate === undefined || !this.isStreamed()) return undefined;
    const intervalMs = this.batchIntervalMs;
    const targetMs = intervalMs - Math.min(intervalMs / 2, this.expectedDelayMs(time, this.catchUpRate));
    return maxMessagesPerPartition(positions, { streamRate: this.catchUpRate * targetMs * (1000 / intervalMs) }, intervalMs);
  }

  /**
   * How late batch `time` is expected to start: the batches planned before it and not completed
   * yet run one after another from the end of the last completed one (none before its own time),
   * each taking its records at `rate` records per ms. A batch is planned at its time, usually
   * while the one before still runs: sizing it from the last completed batch's scheduling delay
   * instead reacted a batch or two late, so batches alternately ran over and ended early, the job
   * idle until the next batch time (docs/benchmarks.md).
   */
  private expectedDelayMs(time: number, rate: number): number {
    let freeAtMs = this.lastEndMs;
    for (const [batchTime, records] of this.outstanding) {
      if (batchTime >= time) continue;
      freeAtMs = Math.max(freeAtMs, batchTime) + records / rate;
    }
    return Math.max(0, freeAtMs - time);
  }

  /**
   * Feeds the backpressure estimator with a batch's processing rate (Spark's `RateController`),
   * and the catch-up rate of streamed batches.
   */
  onBatchCompleted(info: BatchInfo): void {
    if (info.failure !== undefined) return;
    this.lastEndMs = Math.max(this.lastEndMs, info.processingEndTimeMs);
    for (const time of this.outstanding.keys()) if (time <= info.batchTimeMs) this.outstanding.delete(time);
    const wasCapped = this.cappedTimes.delete(info.batchTimeMs);
    for (const time of this.cappedTimes) if (time < info.batchTimeMs) this.cappedTimes.delete(time);
    if (wasCapped && this.isStreamed() && info.numRecords >= CATCH_UP_MIN_RECORDS && info.processingDelayMs > 0) {
      const sample = info.numRecords / info.processingDelayMs;
      const previous = this.catchUpRate;
      // A faster batch is believed at once (up to the growth cap): batches sized from a smoothed
      // rate ran 20–50% short of the interval for three batches after a start, the worker idle for
      // the rest (docs/benchmarks.md). A slower one is averaged: one GC pause is not the new rate.
      this.catchUpRate =
        previous === undefined ? sample : sample > previous ? Math.min(previous * CATCH_UP_MAX_GROWTH, sample) : (previous + sample) / 2;
    }
    this.estimator?.compute(info.processingEndTimeMs, info.numRecords, info.processingDelayMs, info.schedulingDelayMs);
  }

  /**
   * The log's bounds for planning a partition, or undefined to leave it out of this batch: right
   * after partitions are added, or while a leader moves, the query can fail for a while ("Unknown
   * partition"). The partition is planned again at the next batch; only after
   * `MAX_PLANNING_FAILURES` failures in a row does the error fail the batch.
   */
  private async queryBounds(p: TopicPartition): Promise<WatermarkOffsets | undefined> {
    const key = topicPartitionKey(p.topic, p.partition);
    try {
      const bounds = await this.client.queryWatermarkOffsets(p, this.options.connectTimeoutMs);
      this.planningFailures.delete(key);
      return bounds;
    } catch (error) {
      const failures = (this.planningFailures.get(key) ?? 0) + 1;
      this.planningFailures.set(key, failures);
      if (failures >= MAX_PLANNING_FAILURES) throw error;
      this.options.logger.warn(
        `${this.name}: could not read the log bounds of ${p.topic}-${p.partition} (${failures} in a row); ` +
          'it is left out of this batch and planned again at the next',
        { error },
      );
      return undefined;
    }
  }
}

function parseKey(key: string): TopicPartition {
  const colon = key.lastIndexOf(':');
  return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)) };
}
