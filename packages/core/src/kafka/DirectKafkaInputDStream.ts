import type { InputSource, StreamingContextLike } from '../context/types';
import type { DStream, DStreamNode } from '../dstream/DStream';
import { userFunctionError } from '../dstream/userFunctionError';
import {
  DStreamError,
  IllegalStateError,
  KafkaError,
  OffsetOutOfRangeError,
  OffsetStoreError,
  StaleOffsetError,
} from '../errors';
import { OffsetRange, TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { KafkaGroupBinding, OffsetCommit, OffsetStore, StoredOffsets } from '../offsets/OffsetStore';
import type { BatchInfo } from '../scheduler/events';
import type { Clock } from '../util/Clock';
import { SystemClock } from '../util/Clock';
import { retry } from '../util/retry';
import type { ConsumerRecord, ResolvedDirectStreamOptions } from './DirectStreamOptions';
import {
  createKafkaConsumer,
  KafkaConsumerClient,
  KafkaHeader,
  RebalanceEvent,
  TopicPartitionOffset,
  WatermarkOffsets,
} from './KafkaClient';
import { PartitionFetcher, RECORD_OVERHEAD_BYTES } from './PartitionFetcher';
import { PIDRateEstimator } from './PIDRateEstimator';
import { maxMessagesForBytes, maxMessagesPerPartition, planOffsetRanges, PartitionPosition, tighterCaps } from './planOffsetRanges';

/**
 * Stands in the fetch buffer for a record whose key or value could not be deserialized: the
 * failure surfaces only if a batch reads that offset, as it would have if deserialized then.
 */
class UndeserializableRecord {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    readonly error: Error,
  ) {}
}

/** What one batch reads, fixed when it is generated. */
interface PlannedBatch {
  readonly ranges: readonly OffsetRange[];
  /** The ownership token of each partition when the batch was planned (see `owned`). */
  readonly tokens: ReadonlyMap<string, number>;
  /** Records actually read; known once the batch was computed. */
  numRecords: number | undefined;
}

/** How the direct stream reaches the client library; replaced by a fake in unit tests. */
export type KafkaConsumerFactory = (config: Readonly<Record<string, unknown>>) => KafkaConsumerClient;

/**
 * The Kafka direct stream (Spark's `DirectKafkaInputDStream`): at each batch time it fixes one
 * `OffsetRange` per owned partition, reads exactly those records, and commits the ranges' ends to
 * the offset store in the order the delivery semantics require. The batch *is* its ranges:
 * recomputing it after a failure reads the same records.
 *
 * With Subscribe strategies, partitions move between the group's members on rebalance. A
 * partition revoked while a batch that includes it is running is not committed by this member;
 * that batch's output for its records may already be written, and the new owner reads them again
 * (at-least-once for that hand-over, whatever `delivery` says, unless the store fences the
 * output inside its transaction). A member gives up revoked partitions only after a commit it
 * has under way lands, so the next owner loads what it wrote.
 *
 * Both rebalance protocols work: the eager one of librdkafka's default assignors
 * (`range,roundrobin`, kept as the default: every rebalance reloads every partition's offset from
 * the store, which is simple to reason about) and the incremental one of `cooperative-sticky`,
 * where partitions that stay keep their buffers.
 */
export class DirectKafkaInputDStream<K, V> implements InputSource, DStreamNode<ConsumerRecord<K, V>> {
  readonly name: string;
  readonly dependencies: readonly DStream<unknown>[] = [];
  private client: KafkaConsumerClient | undefined;
  private fetcher: PartitionFetcher<ConsumerRecord<K, V> | UndeserializableRecord> | undefined;
  /**
   * Partitions this member owns, each with a token that changes on every assignment, so a batch
   * planned before a revoke can tell that a partition is no longer its to commit.
   */
  private readonly owned = new Map<string, number>();
  private nextToken = 1;
  /** The next offset to plan from, per owned partition whose start is known. */
  private readonly current = new Map<string, number>();
  /** What the offset store holds for each owned partition (null: nothing): a commit's expected offset. */
  private readonly stored = new Map<string, number | null>();
  private readonly batches = new Map<number, PlannedBatch>();
  /** Partitions that existed when the stream started: any other is new and starts per `newPartitions`. */
  private readonly knownAtStart = new Set<string>();
  private rebalances: Promise<void> = Promise.resolve();
  private commitInFlight: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private readonly estimator: PIDRateEstimator | undefined;
  private readonly clock: Clock;
  private isStarted = false;
  private isStopped = false;
  private hasStoreConnection = false;

  constructor(
    private readonly context: StreamingContextLike & { readonly clock?: Clock },
    private readonly options: ResolvedDirectStreamOptions<K, V>,
    private readonly createConsumer: KafkaConsumerFactory = createKafkaConsumer,
  ) {
    const { strategy } = options;
    const what =
      strategy.kind === 'Assign'
        ? strategy.partitions.map((p) => `${p.topic}-${p.partition}`).join(',')
        : strategy.kind === 'Subscribe'
          ? strategy.topics.join(',')
          : String(strategy.pattern);
    this.name = `kafka[${what}]`;
    this.clock = context.clock ?? new SystemClock();
    this.estimator = options.backpressure.enabled
      ? new PIDRateEstimator(context.batchIntervalMs, options.backpressure.pid)
      : undefined;
  }

  get slideDurationMs(): number {
    return this.context.batchIntervalMs;
  }

  private get consumer(): KafkaConsumerClient {
    if (this.client === undefined) throw new IllegalStateError(`${this.name} is not started`);
    return this.client;
  }

  /**
   * Connects to Kafka and the offset store and decides where each partition starts: the stored
   * offset, else the strategy's explicit offset, else `startingOffsets`, each checked against the
   * log's bounds. Nothing is consumed if any of it fails.
   */
  async start(): Promise<void> {
    if (this.isStarted) throw new IllegalStateError(`${this.name} was already started`);
    this.isStarted = true;
    const { options } = this;
    const client = this.createConsumer({
      ...fetchDefaults(options.maxBatchBytes),
      ...options.kafkaParams,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'enable.partition.eof': true,
      // Fail the fetch instead of librdkafka's default silent jump to the log end: where to
      // resume after an out-of-range offset is the `offsetOutOfRange` policy's decision.
      'auto.offset.reset': 'error',
      'topic.metadata.refresh.interval.ms': options.metadataRefreshMs,
    });
    this.client = client;
    try {
      await client.connect(options.connectTimeoutMs);
      await this.connectStore(client);
      const metadata = await client.getMetadata(options.connectTimeoutMs);
      for (const topic of metadata.topics) {
        for (const partition of topic.partitions) this.knownAtStart.add(topicPartitionKey(topic.name, partition));
      }
      this.fetcher = new PartitionFetcher(client, {
        build: (topic, partition, offset, key, value, timestamp, headers) =>
          this.toRecord(topic, partition, offset, key, value, timestamp, headers),
        maxReadAheadBytes: options.maxBatchBytes,
        maxBufferedPerPartition: options.maxBufferedRecordsPerPartition,
        fetchTimeoutMs: options.fetchTimeoutMs,
        logger: options.logger,
      });
      if (options.strategy.kind === 'Assign') {
        await this.startAssigned(options.strategy.partitions);
      } else {
        await this.startSubscribed();
      }
    } catch (error) {
      await this.release();
      throw error;
    }
  }

  private async connectStore(client: KafkaConsumerClient): Promise<void> {
    const binding: KafkaGroupBinding = {
      groupId: this.options.groupId,
      consumer: client.raw,
      committed: async (partitions, timeoutMs) => {
        const result = new Map<string, number>();
        for (const { topic, partition, offset } of await client.committed(partitions, timeoutMs)) {
          if (offset >= 0) result.set(topicPartitionKey(topic, partition), offset);
        }
        return result;
      },
      commit: (offsets) => client.commit(offsets),
    };
    const store = this.options.offsetStore;
    try {
      await store.connect({ kafka: binding });
    } catch (error) {
      throw asStoreError(store, error, 'could not connect; nothing was consumed');
    }
    this.hasStoreConnection = true;
  }

  private async startAssigned(partitions: readonly TopicPartition[]): Promise<void> {
    const missing = partitions.filter((p) => !this.knownAtStart.has(topicPartitionKey(p.topic, p.partition)));
    if (missing.length > 0) {
      throw new KafkaError(
        `ConsumerStrategies.Assign names partitions the cluster at ${this.options.brokers} does not have: ` +
          `${missing.map((p) => `${p.topic}-${p.partition}`).join(', ')}. Create them, or fix the strategy`,
      );
    }
    const positions = await this.resolveStarts(partitions, 'start');
    this.consumer.assign(positions);
    this.own(positions);
    this.fetcher!.start();
  }

  private async startSubscribed(): Promise<void> {
    const { strategy, connectTimeoutMs, kafkaParams } = this.options;
    const topics = strategy.kind === 'Subscribe' ? strategy.topics : strategy.kind === 'SubscribePattern' ? [strategy.pattern] : [];
    let firstAssignment!: () => void;
    const assigned = new Promise<void>((resolve) => (firstAssignment = resolve));
    let isFirst = true;
    this.consumer.subscribe(topics, (event) => {
      const reason = isFirst ? 'start' : 'assigned';
      if (event.type === 'assign') isFirst = false;
      this.rebalances = this.rebalances
        .then(() => this.rebalance(event, reason))
        .catch((error: unknown) => {
          this.failure ??= error instanceof Error ? error : new DStreamError(String(error));
          this.options.logger.error(`${this.name}: rebalance failed; the next batch fails`, { error });
        })
        .finally(() => {
          if (event.type === 'assign') firstAssignment();
        });
    });
    // The fetch loop's consume calls are what deliver the group's rebalance callbacks.
    this.fetcher!.start();
    // Joining waits out a dead member's session (session.timeout.ms, 45 s by default) before
    // its partitions are handed out, so the bound adds that to the connect timeout.
    const sessionMs = Number(kafkaParams['session.timeout.ms'] ?? 45_000);
    const boundMs = connectTimeoutMs + sessionMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        assigned,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new KafkaError(
                  `no partition assignment from group ${this.options.groupId} at ${this.options.brokers} within ${boundMs} ms. ` +
                    'Check that the brokers are up and the group coordinator is reachable',
                  { retriable: true },
                ),
              ),
            boundMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    if (this.failure) throw this.failure;
  }

  /** Handles one group rebalance event; events run one after another. */
  private async rebalance(event: RebalanceEvent, reason: 'start' | 'assigned'): Promise<void> {
    const client = this.consumer;
    const isCooperative = client.rebalanceProtocol() === 'COOPERATIVE';
    if (event.type === 'revoke') {
      for (const { topic, partition } of event.partitions) {
        const key = topicPartitionKey(topic, partition);
        this.owned.delete(key);
        this.current.delete(key);
        this.stored.delete(key);
      }
      this.fetcher?.remove(event.partitions);
      this.options.logger.info(`${this.name}: partitions revoked`, { partitions: event.partitions.map(describe) });
      // Give up the partitions only after a commit already under way has landed, so the next
      // owner loads the offsets it wrote rather than racing it.
      await this.commitInFlight.catch(() => undefined);
      if (isCooperative) client.incrementalUnassign(event.partitions);
      else client.unassign();
      return;
    }
    const positions = await this.resolveStarts(event.partitions, reason);
    if (isCooperative) client.incrementalAssign(positions);
    else client.assign(positions);
    this.own(positions);
    this.options.logger.info(`${this.name}: partitions assigned`, { partitions: positions.map(describe) });
  }

  /** Marks partitions as owned from these offsets on, and starts fetching them. */
  private own(positions: readonly TopicPartitionOffset[]): void {
    for (const { topic, partition, offset } of positions) {
      const key = topicPartitionKey(topic, partition);
      this.owned.set(key, this.nextToken++);
      this.current.set(key, offset);
    }
    this.fetcher!.add(positions);
  }

  /**
   * Start offsets for partitions this member just got: stored, else explicit, else (at start, or
   * for partitions that existed then) `startingOffsets`, else `newPartitions`; then checked
   * against the log's bounds.
   */
  private async resolveStarts(
    partitions: readonly TopicPartition[],
    reason: 'start' | 'assigned',
  ): Promise<TopicPartitionOffset[]> {
    if (partitions.length === 0) return [];
    const { offsetStore, groupId, strategy, startingOffsets, newPartitions } = this.options;
    let storedOffsets: StoredOffsets;
    try {
      storedOffsets = await offsetStore.load(groupId, partitions);
    } catch (error) {
      throw asStoreError(offsetStore, error, 'could not load stored offsets; nothing was consumed from these partitions');
    }
    const bounds = await Promise.all(partitions.map((p) => this.watermarks(p)));
    const fromTimestamp: TopicPartitionOffset[] = [];
    const result = partitions.map((p, index) => {
      const key = topicPartitionKey(p.topic, p.partition);
      const stored = storedOffsets.get(key);
      this.stored.set(key, stored ?? null);
      if (stored !== undefined) return { ...p, offset: this.checkInRange(p, stored, bounds[index], 'stored') };
      const explicit = strategy.offsets.get(key);
      if (explicit !== undefined) return { ...p, offset: this.checkInRange(p, explicit, bounds[index], 'explicit') };
      const start = reason === 'start' || this.knownAtStart.has(key) ? startingOffsets : newPartitions;
      if (start === 'earliest') return { ...p, offset: bounds[index].low };
      if (start === 'latest') return { ...p, offset: bounds[index].high };
      fromTimestamp.push({ ...p, offset: start.timestampMs });
      return { ...p, offset: -1 };
    });
    if (fromTimestamp.length > 0) {
      const found = await this.consumer.offsetsForTimes(fromTimestamp, this.options.connectTimeoutMs);
      for (const entry of found) {
        const index = partitions.findIndex((p) => p.topic === entry.topic && p.partition === entry.partition);
        // No record at or after the time: start at the end, where the next record will be.
        result[index] = { ...partitions[index], offset: entry.offset >= 0 ? entry.offset : bounds[index].high };
      }
    }
    return result;
  }

  /** Applies the `offsetOutOfRange` policy to an offset outside the log [low, high]. */
  private checkInRange(p: TopicPartition, offset: number, bounds: WatermarkOffsets, what: string): number {
    if (offset >= bounds.low && offset <= bounds.high) return offset;
    const policy = this.options.offsetOutOfRange;
    if (policy === 'fail') throw new OffsetOutOfRangeError(p.topic, p.partition, offset, bounds.low, bounds.high);
    const reset = policy === 'earliest' ? bounds.low : bounds.high;
    this.options.logger.warn(
      `${this.name}: ${what} offset ${offset} of ${p.topic}-${p.partition} is outside the log [${bounds.low}, ${bounds.high}]; ` +
        `resetting to ${reset} (offsetOutOfRange: '${policy}')`,
      { topic: p.topic, partition: p.partition, offset, reset },
    );
    return reset;
  }

  private watermarks(p: TopicPartition): Promise<WatermarkOffsets> {
    return this.consumer.queryWatermarkOffsets(p, this.options.connectTimeoutMs);
  }

  /** Fixes batch `time`'s ranges: from each owned partition's next offset up to the log end, within the rate limits. */
  async generate(time: number): Promise<void> {
    if (this.failure) throw this.failure;
    const tokens = new Map<string, number>();
    const partitions: TopicPartition[] = [];
    for (const [key, token] of this.owned) {
      if (!this.current.has(key)) continue;
      tokens.set(key, token);
      partitions.push(parseKey(key));
    }
    const positions: PartitionPosition[] = [];
    for (const p of partitions) {
      const key = topicPartitionKey(p.topic, p.partition);
      // Plan from the bounds librdkafka cached from its last fetch of the partition: reading them
      // blocks nothing. Querying the leader instead takes a threadpool thread for as long as the
      // consumer's fetch in flight (up to fetch.wait.max.ms), and one query per partition at once
      // starves the fetch loop's consume() of threads. A stale cache (a paused partition) only
      // makes the batch smaller. Only the leader decides that an offset is out of range, so a
      // cache that does not contain `next` is confirmed by a query, as is a partition never fetched.
      const next = this.current.get(key)!;
      let bounds = this.consumer.cachedWatermarkOffsets(p);
      if (bounds === undefined || next < bounds.low || next > bounds.high) {
        // One at a time: the queries would otherwise take all of libuv's threads together.
        bounds = await this.watermarks(p);
        // A rebalance during the query may have moved the partition: plan it next time.
        if (this.owned.get(key) !== tokens.get(key)) {
          tokens.delete(key);
          continue;
        }
      }
      const from = this.checkInRange(p, this.current.get(key)!, bounds, 'next');
      positions.push({ ...p, fromOffset: from, latestOffset: bounds.high });
    }
    const { backpressure, maxRatePerPartition, minRatePerPartition } = this.options;
    const streamRate = this.estimator ? (this.estimator.latestRateLimit ?? backpressure.initialRate) : undefined;
    const rateCaps = maxMessagesPerPartition(
      positions,
      { streamRate, maxRatePerPartition, minRatePerPartition },
      this.context.batchIntervalMs,
    );
    // Whatever the lag, a batch holds at most maxBatchBytes: sized from the records fetched so
    // far, or, for a partition none was fetched of yet (the first batch), a cautious guess.
    const byteCaps = maxMessagesForBytes(
      positions,
      this.options.maxBatchBytes,
      (p) => this.fetcher!.averageRecordBytes(p) ?? UNKNOWN_RECORD_BYTES,
    );
    const ranges = planOffsetRanges(positions, tighterCaps(rateCaps, byteCaps));
    for (const range of ranges) this.current.set(range.key, range.untilOffset);
    this.batches.set(time, { ranges, tokens, numRecords: undefined });
  }

  /** The ranges batch `time` reads (Spark's `HasOffsetRanges`). */
  offsetRanges(time: number): readonly OffsetRange[] {
    return this.batches.get(time)?.ranges ?? [];
  }

  /** Records batch `time` read (fewer than its ranges' offsets on compacted or transactional topics). */
  recordCount(time: number): number {
    const batch = this.batches.get(time);
    if (batch === undefined) return 0;
    return batch.numRecords ?? batch.ranges.reduce((sum, range) => sum + range.count, 0);
  }

  /** Reads batch `time`'s records: each range's partition in offset order, partitions in range order. */
  async compute(time: number): Promise<readonly ConsumerRecord<K, V>[]> {
    const batch = this.batches.get(time);
    if (batch === undefined) throw new IllegalStateError(`${this.name}: batch ${time} was not generated`);
    if (this.failure) throw this.failure;
    const fetcher = this.fetcher!;
    const fetched = await Promise.all(
      batch.ranges.map((range) =>
        this.owned.get(range.key) === batch.tokens.get(range.key) ? fetcher.take(range) : Promise.resolve(undefined),
      ),
    );
    // undefined: the partition was revoked before its records were read; its range is not committed.
    const taken = fetched.filter((records) => records !== undefined);
    // One partition (or one with records) hands its array over as is; otherwise one copy, no spreads.
    const records = taken.length === 1 ? taken[0] : ([] as (ConsumerRecord<K, V> | UndeserializableRecord)[]).concat(...taken);
    for (let index = 0; index < records.length; index++) {
      const record = records[index];
      if (record instanceof UndeserializableRecord) throw record.error;
    }
    batch.numRecords = records.length;
    return records as ConsumerRecord<K, V>[];
  }

  /**
   * Builds a fetched record, deserialized, straight from the client's fields (one object per
   * record). Runs in the fetch loop, which must not throw: a failing deserializer yields an
   * `UndeserializableRecord` that fails the batch reading it. A record dropped by a seek and
   * fetched again is deserialized again.
   */
  private toRecord(
    topic: string,
    partition: number,
    offset: number,
    rawKey: Buffer | null,
    rawValue: Buffer | null,
    timestamp: number,
    headers: readonly KafkaHeader[],
  ): ConsumerRecord<K, V> | UndeserializableRecord {
    const { keyDeserializer, valueDeserializer } = this.options;
    let key: K;
    let value: V;
    try {
      key = keyDeserializer(rawKey);
    } catch (error) {
      return new UndeserializableRecord(topic, partition, offset, userFunctionError('keyDeserializer', error, { topic, partition, offset }));
    }
    try {
      value = valueDeserializer(rawValue);
    } catch (error) {
      return new UndeserializableRecord(topic, partition, offset, userFunctionError('valueDeserializer', error, { topic, partition, offset }));
    }
    return { topic, partition, offset, key, value, timestamp, headers };
  }

  /**
   * Runs the batch's outputs and commits its ranges in the order `delivery` requires. Only
   * partitions still owned are committed, each compare-and-set against what the store holds.
   */
  async runBatch(time: number, outputs: (transaction: unknown) => Promise<void>): Promise<void> {
    const batch = this.batches.get(time);
    if (batch === undefined) throw new IllegalStateError(`${this.name}: batch ${time} was not generated`);
    const { delivery, idempotentOutput, offsetStore, groupId } = this.options;
    if (delivery === 'at-most-once') {
      await this.commit(time, batch, (commits) => offsetStore.commit(groupId, commits));
      await outputs(undefined);
    } else if (delivery === 'exactly-once' && !idempotentOutput) {
      // Validation guarantees `transaction` exists; a retry runs the outputs again in a new transaction.
      await this.commit(time, batch, (commits) => offsetStore.transaction!(groupId, commits, (tx) => outputs(tx)));
    } else {
      await outputs(undefined);
      await this.commit(time, batch, (commits) => offsetStore.commit(groupId, commits));
    }
  }

  /**
   * Commits with bounded retries of retriable failures. A commit whose answer was lost may have
   * landed: when the retry then finds the store already at the batch's `until`, that is success.
   */
  private async commit(
    time: number,
    batch: PlannedBatch,
    write: (commits: readonly OffsetCommit[]) => Promise<void>,
  ): Promise<void> {
    const { offsetStore, commitRetries, logger } = this.options;
    let commits: OffsetCommit[] = [];
    let isAmbiguous = false;
    const attempt = async () => {
      commits = [];
      for (const range of batch.ranges) {
        if (this.owned.get(range.key) !== batch.tokens.get(range.key)) continue;
        commits.push({ range, expectedOffset: this.stored.get(range.key) ?? null });
      }
      try {
        await write(commits);
      } catch (error) {
        if (isAmbiguous && error instanceof StaleOffsetError) {
          const mine = commits.find((c) => c.range.topic === error.topic && c.range.partition === error.partition);
          if (mine !== undefined && error.actualOffset === mine.range.untilOffset) return;
        }
        if ((error as { retriable?: unknown }).retriable === true) isAmbiguous = true;
        throw error;
      }
    };
    const running = retry(attempt, {
      clock: this.clock,
      maxAttempts: commitRetries + 1,
      onRetry: (error, attemptNumber, delayMs) =>
        logger.warn(`${this.name}: commit of batch ${time} failed (attempt ${attemptNumber}), retrying in ${delayMs} ms`, {
          error,
        }),
    });
    this.commitInFlight = running;
    try {
      await running;
    } catch (error) {
      const ranges = commits.map((c) => String(c.range)).join(', ');
      throw new OffsetStoreError(
        offsetStore.name,
        `could not commit ${ranges || 'the batch'}: ${(error as Error).message}. Offsets were not advanced`,
        { batchTimeMs: time, cause: error, retriable: false },
      );
    }
    for (const { range } of commits) {
      if (this.owned.get(range.key) === batch.tokens.get(range.key)) this.stored.set(range.key, range.untilOffset);
    }
  }

  /** Feeds the backpressure estimator with the batch's processing rate (Spark's `RateController`). */
  onBatchCompleted(info: BatchInfo): void {
    if (this.estimator === undefined || info.failure !== undefined) return;
    this.estimator.compute(info.processingEndTimeMs, info.numRecords, info.processingDelayMs, info.schedulingDelayMs);
  }

  clear(time: number): void {
    for (const batchTime of this.batches.keys()) if (batchTime <= time) this.batches.delete(batchTime);
  }

  /** Stops fetching, leaves the group, and closes the offset store. */
  async stop(): Promise<void> {
    if (this.isStopped) return;
    await this.release();
  }

  private async release(): Promise<void> {
    this.isStopped = true;
    await this.fetcher?.stop();
    await this.rebalances.catch(() => undefined);
    await this.client?.disconnect();
    if (this.hasStoreConnection) {
      this.hasStoreConnection = false;
      try {
        await this.options.offsetStore.close();
      } catch (error) {
        this.options.logger.warn(`${this.name}: closing offset store ${this.options.offsetStore.name} failed`, { error });
      }
    }
  }
}

/**
 * Bytes per record assumed for a partition of which nothing was fetched yet: large enough that a
 * first batch of unknown records stays within its budget unless they exceed ~4 KiB.
 */
const UNKNOWN_RECORD_BYTES = 4096 + RECORD_OVERHEAD_BYTES;

/**
 * librdkafka settings the stream uses unless `kafkaParams` set them. Fetches of at least 1 MiB
 * (or whatever arrived within 100 ms) and a deep prefetch queue take a `consume(10000)` loop from
 * ~110 k to ~230 k records/s here (docs/benchmarks.md); the queue is bounded in bytes by a
 * quarter of the batch budget, so its memory stays bounded whatever the backlog.
 */
function fetchDefaults(maxBatchBytes: number): Record<string, number> {
  return {
    // librdkafka's default (500 ms) holds an empty fetch that long at the broker; a query of the
    // log end made meanwhile (reconciliation, a partition never fetched) waits behind it, and
    // a fresh record waits for it to return.
    'fetch.wait.max.ms': 100,
    'fetch.min.bytes': 2 ** 20,
    // The kbytes bound has priority over the message count, so the count only stops librdkafka's
    // default (100 000) from ending prefetch early.
    'queued.min.messages': 1_000_000,
    'queued.max.messages.kbytes': Math.max(1024, Math.floor(maxBatchBytes / 4 / 1024)),
  };
}

function asStoreError(store: OffsetStore, error: unknown, what: string): DStreamError {
  if (error instanceof DStreamError) return error;
  return new OffsetStoreError(store.name, `${what}: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
    retriable: true,
  });
}

function parseKey(key: string): TopicPartition {
  const colon = key.lastIndexOf(':');
  return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)) };
}

function describe(p: TopicPartition & { offset?: number }): string {
  return p.offset === undefined ? `${p.topic}-${p.partition}` : `${p.topic}-${p.partition}@${p.offset}`;
}
