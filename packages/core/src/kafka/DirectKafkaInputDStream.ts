import type { BatchErrorDecision, InputSource, StreamingContextLike } from '../context/types';
import type { DStream, DStreamNode } from '../dstream/DStream';
import { userFunctionError } from '../dstream/userFunctionError';
import {
  DStreamError,
  FencedBatchError,
  IllegalStateError,
  KafkaError,
  OffsetOutOfRangeError,
  OffsetStoreError,
  RecordProcessingError,
} from '../errors';
import { type DeadLetter, deadLetterId, renderPayload } from '../offsets/DeadLetter';
import { OffsetRange, TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { KafkaGroupBinding, OffsetCommit, OffsetStore, StoredOffsets } from '../offsets/OffsetStore';
import type { BatchInfo } from '../scheduler/events';
import type { Clock } from '../util/Clock';
import { SystemClock } from '../util/Clock';
import { retry } from '../util/retry';
import { commitBatch } from '../offsets/commitBatch';
import { StatePersistence } from '../state/StatePersistence';
import { type ConsumerRecord, editDistance, nearestName, type ResolvedDirectStreamOptions } from './DirectStreamOptions';
import {
  type ClusterMetadata,
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

/** Default `partition.assignment.strategy`: the cooperative (incremental) protocol. */
export const DEFAULT_ASSIGNMENT_STRATEGY = 'cooperative-sticky';
/** Default `session.timeout.ms`: how long a dead member holds its partitions. */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
/** Batches in a row a partition may be left out of because its log bounds could not be read. */
const MAX_PLANNING_FAILURES = 20;

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
    /** The bytes as fetched, for a dead letter. */
    readonly key: Buffer | null,
    readonly value: Buffer | null,
  ) {}
}

/** A record the dead-letter policy set aside in one batch; the payload is filled in when the batch is read again. */
interface DeadRecord {
  letter: DeadLetter;
}

/** What one batch reads, fixed when it is generated. */
interface PlannedBatch {
  readonly time: number;
  readonly ranges: readonly OffsetRange[];
  /** The ownership token of each partition when the batch was planned (see `owned`). */
  readonly tokens: ReadonlyMap<string, number>;
  /**
   * The ranges the batch delivers and commits: those of its partitions still owned under the
   * same token when it starts running. Fixed once, so the outputs, the commit and the batch's
   * report all cover the same records whatever rebalances happen meanwhile.
   */
  claimed: Claim | undefined;
  /** Records actually read; known once the batch was computed. */
  numRecords: number | undefined;
  /** Failed runs charged to each record (`deadLetterId`), under the dead-letter policy. */
  readonly attempts: Map<string, number>;
  /** Records set aside (`deadLetterId`): the batch is read without them and commits their letters. */
  readonly dead: Map<string, DeadRecord>;
}

/** A running batch's hold on its partitions: a revoke of one of them waits for `done`. */
interface Claim {
  readonly ranges: readonly OffsetRange[];
  readonly keys: ReadonlySet<string>;
  /** What the store held for each claimed partition when the batch started: the commits' expected offsets. */
  readonly expected: ReadonlyMap<string, number | null>;
  /** Partitions given up while the batch ran (a revoke that outwaited `revokeTimeoutMs`): the batch must not commit. */
  readonly fenced: Set<string>;
  readonly done: Promise<void>;
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
  /** Its batches hold the records as read from the log: a failure on one names a source record. */
  readonly yieldsSourceRecords = true;
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
  /** Failed bound queries in a row, per partition (see `queryBoundsForPlanning`). */
  private readonly planningFailures = new Map<string, number>();
  /** The mirror commits to the consumer group still under way (see `mirrorToGroup`). */
  private mirrorCommits: Promise<void> = Promise.resolve();
  /** The batch running now, if it holds partitions. */
  private running: Claim | undefined;
  private failure: Error | undefined;
  private readonly estimator: PIDRateEstimator | undefined;
  private readonly clock: Clock;
  private isStarted = false;
  private isStopped = false;
  private hasStoreConnection = false;
  /** Where the context's stateful operators keep their state: restored at start, written with each commit. */
  private state: StatePersistence | undefined;

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
   * log's bounds. Nothing is consumed if any of it fails. Aborting `signal` (a stop during start)
   * ends the wait for the group's first assignment and rejects with the signal's reason.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.isStarted) throw new IllegalStateError(`${this.name} was already started`);
    this.isStarted = true;
    const { options } = this;
    this.state = StatePersistence.claim(this.context, {
      store: options.offsetStore,
      group: options.groupId,
      delivery: options.delivery,
      logger: options.logger,
      source: this.name,
    });
    const client = this.createConsumer({
      ...fetchDefaults(options.maxBatchBytes),
      // Incremental rebalances: members that stay keep their partitions (and read-ahead) while
      // one joins or leaves, instead of everyone stopping for every change.
      'partition.assignment.strategy': DEFAULT_ASSIGNMENT_STRATEGY,
      // A member that died is noticed after this long (Kafka's default is 45 s): failover time.
      'session.timeout.ms': DEFAULT_SESSION_TIMEOUT_MS,
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
      signal?.throwIfAborted();
      await this.connectStore(client);
      await this.state.restore();
      signal?.throwIfAborted();
      const metadata = await client.getMetadata(options.connectTimeoutMs);
      for (const topic of metadata.topics) {
        for (const partition of topic.partitions) this.knownAtStart.add(topicPartitionKey(topic.name, partition));
      }
      if (options.strategy.kind === 'Subscribe') this.checkSubscribedTopics(options.strategy.topics, metadata);
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
        await this.startSubscribed(signal);
      }
    } catch (error) {
      await this.release();
      throw error;
    }
  }

  /**
   * A subscription to a topic the cluster does not have joins the group, is assigned nothing and
   * times out after the join bound without naming the topic: refuse it at start instead. A job
   * that asked for topics to be created on subscription (`allow.auto.create.topics: true`, honoured
   * when the broker has `auto.create.topics.enable`) is let through.
   */
  private checkSubscribedTopics(topics: readonly string[], metadata: ClusterMetadata): void {
    if (String(this.options.kafkaParams['allow.auto.create.topics']) === 'true') return;
    const present = metadata.topics.map((topic) => topic.name).filter((name) => !name.startsWith('__'));
    const missing = topics.filter((topic) => !present.includes(topic));
    if (missing.length === 0) return;
    const hints = missing
      .map((topic) => ({ topic, near: present.length > 0 ? nearestName(topic, present) : undefined }))
      .filter(({ topic, near }) => near !== undefined && editDistance(topic, near) <= 3)
      .map(({ topic, near }) => `'${near}' for '${topic}'?`);
    throw new KafkaError(
      `ConsumerStrategies.Subscribe names ${missing.length === 1 ? 'a topic' : 'topics'} the cluster at ${this.options.brokers} ` +
        `does not have: ${missing.join(', ')}. Create ${missing.length === 1 ? 'it' : 'them'} ` +
        `(e.g. kafka-topics --create --topic ${missing[0]} --partitions 4), or check the name` +
        `${hints.length > 0 ? ` (did you mean ${hints.join(', ')})` : ''}. ` +
        `To have the broker create it on subscription, set kafkaParams 'allow.auto.create.topics': true.`,
    );
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

  private async startSubscribed(signal: AbortSignal | undefined): Promise<void> {
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
    const sessionMs = Number(kafkaParams['session.timeout.ms'] ?? DEFAULT_SESSION_TIMEOUT_MS);
    const boundMs = connectTimeoutMs + sessionMs;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        assigned,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(signal!.reason);
          if (signal?.aborted) onAbort();
          else signal?.addEventListener('abort', onAbort, { once: true });
        }),
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
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
    if (this.failure) throw this.failure;
  }

  /**
   * Handles one group rebalance event; events run one after another. A revoke first stops planning
   * the partitions, then lets a running batch that reads them finish and commit (up to
   * `revokeTimeoutMs`), and only then gives them up, so the next owner loads what this member
   * committed and no range is committed by a member that no longer owns it. A batch that outlasts
   * the wait is fenced: it fails instead of committing, and under exactly-once its transaction
   * aborts with its outputs' writes.
   */
  private async rebalance(event: RebalanceEvent, reason: 'start' | 'assigned'): Promise<void> {
    const client = this.consumer;
    const isCooperative = client.rebalanceProtocol() === 'COOPERATIVE';
    if (event.type === 'revoke') {
      const keys = new Set(event.partitions.map((p) => topicPartitionKey(p.topic, p.partition)));
      for (const key of keys) {
        this.owned.delete(key);
        this.current.delete(key);
      }
      this.options.logger.info(`${this.name}: partitions revoked`, { partitions: event.partitions.map(describe) });
      try {
        await this.drain(keys);
      } finally {
        for (const key of keys) this.stored.delete(key);
        // Resumes what read-ahead paused: librdkafka keeps a pause across unassign and assign.
        this.fetcher?.remove(event.partitions);
        // Always answered: librdkafka (and a closing consumer) waits for the unassign.
        if (isCooperative) client.incrementalUnassign(event.partitions);
        else client.unassign();
      }
      return;
    }
    const positions = await this.resolveStarts(event.partitions, reason);
    if (isCooperative) client.incrementalAssign(positions);
    else client.assign(positions);
    this.own(positions);
    this.options.logger.info(`${this.name}: partitions assigned`, { partitions: positions.map(describe) });
  }

  /** Waits for the running batch, if it reads any of `keys`, to end; past `revokeTimeoutMs` it is fenced off them. */
  private async drain(keys: ReadonlySet<string>): Promise<void> {
    const claim = this.running;
    if (claim === undefined || ![...keys].some((key) => claim.keys.has(key))) return;
    const { revokeTimeoutMs, logger } = this.options;
    logger.info(`${this.name}: waiting up to ${revokeTimeoutMs} ms for the running batch to commit revoked partitions`);
    const timer = new AbortController();
    const hasEnded = await Promise.race([
      claim.done.then(() => true),
      this.clock.waitUntil(this.clock.nowMs() + revokeTimeoutMs, timer.signal).then(
        () => false,
        () => true,
      ),
    ]);
    timer.abort();
    if (hasEnded) return;
    for (const key of keys) if (claim.keys.has(key)) claim.fenced.add(key);
    logger.warn(
      `${this.name}: the running batch did not finish within revokeTimeoutMs (${revokeTimeoutMs} ms); ` +
        'it will fail instead of committing partitions this member gave up',
    );
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
      storedOffsets = await retry(() => offsetStore.load(groupId, partitions), {
        clock: this.clock,
        maxAttempts: Number.POSITIVE_INFINITY,
        maxElapsedMs: reason === 'start' ? 0 : this.options.storeOutageBudgetMs,
        maxDelayMs: 5000,
        onRetry: (error, attempt, delayMs) =>
          this.options.logger.warn(
            `${this.name}: offset store ${offsetStore.name} failed loading offsets of assigned partitions ` +
              `(attempt ${attempt}); retrying in ${delayMs} ms, for up to ${this.options.storeOutageBudgetMs} ms in all`,
            { error },
          ),
      });
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

  /**
   * The log's bounds for planning a partition, or undefined to leave it out of this batch: right
   * after partitions are added, or while a leader moves, the query can fail for a while ("Unknown
   * partition"). The partition is planned again at the next batch; only after
   * `MAX_PLANNING_FAILURES` failures in a row does the error fail the batch.
   */
  private async queryBoundsForPlanning(p: TopicPartition): Promise<WatermarkOffsets | undefined> {
    const key = topicPartitionKey(p.topic, p.partition);
    try {
      const bounds = await this.watermarks(p);
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
      // A rebalance while an earlier partition's bounds were queried may have moved this one.
      const next = this.current.get(key);
      if (next === undefined || this.owned.get(key) !== tokens.get(key)) {
        tokens.delete(key);
        continue;
      }
      let bounds = this.consumer.cachedWatermarkOffsets(p);
      if (bounds === undefined || next < bounds.low || next > bounds.high) {
        // One at a time: the queries would otherwise take all of libuv's threads together.
        const queried = await this.queryBoundsForPlanning(p);
        // A rebalance during the query may have moved the partition: plan it next time.
        if (queried === undefined || this.owned.get(key) !== tokens.get(key) || !this.current.has(key)) {
          tokens.delete(key);
          continue;
        }
        bounds = queried;
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
    this.batches.set(time, {
      time,
      ranges,
      tokens,
      claimed: undefined,
      numRecords: undefined,
      attempts: new Map(),
      dead: new Map(),
    });
    this.context.postInputEvent?.({
      type: 'InputPlanned',
      input: this.name,
      batchTimeMs: time,
      partitions: ranges.map((range, index) => ({ ...range.toJSON(), logEndOffset: positions[index]!.latestOffset })),
    });
  }

  /**
   * The ranges batch `time` reads (Spark's `HasOffsetRanges`): once it runs, those it claimed,
   * i.e. without partitions given up between its planning and its start.
   */
  offsetRanges(time: number): readonly OffsetRange[] {
    const batch = this.batches.get(time);
    if (batch === undefined) return [];
    return batch.claimed?.ranges ?? batch.ranges;
  }

  /** Records batch `time` read (fewer than its ranges' offsets on compacted or transactional topics). */
  recordCount(time: number): number {
    const batch = this.batches.get(time);
    if (batch === undefined) return 0;
    return batch.numRecords ?? this.offsetRanges(time).reduce((sum, range) => sum + range.count, 0);
  }

  /** Reads batch `time`'s records: each claimed range's partition in offset order, partitions in range order. */
  async compute(time: number): Promise<readonly ConsumerRecord<K, V>[]> {
    const batch = this.batches.get(time);
    if (batch === undefined) throw new IllegalStateError(`${this.name}: batch ${time} was not generated`);
    if (this.failure) throw this.failure;
    const fetcher = this.fetcher!;
    const { ranges } = batch.claimed ?? this.claim(batch);
    const fetched = await Promise.all(ranges.map((range) => this.take(fetcher, range)));
    // One partition hands its array over as is; otherwise one copy, no spreads.
    let records = fetched.length === 1 ? fetched[0] : ([] as (ConsumerRecord<K, V> | UndeserializableRecord)[]).concat(...fetched);
    if (batch.dead.size > 0) records = withoutDead(records, batch.dead);
    for (let index = 0; index < records.length; index++) {
      const record = records[index];
      if (record instanceof UndeserializableRecord) throw record.error;
    }
    batch.numRecords = records.length;
    return records as ConsumerRecord<K, V>[];
  }

  /** A claimed range's records. The fetcher keeps a claimed partition until the batch ends, so it cannot be missing. */
  private async take(
    fetcher: PartitionFetcher<ConsumerRecord<K, V> | UndeserializableRecord>,
    range: OffsetRange,
  ): Promise<(ConsumerRecord<K, V> | UndeserializableRecord)[]> {
    const records = await fetcher.take(range);
    if (records === undefined) {
      throw new IllegalStateError(`${this.name}: ${range} was claimed by a running batch but is no longer fetched`);
    }
    return records;
  }

  /**
   * Fixes which of the batch's ranges it delivers and commits: those whose partitions are still
   * owned under the token they were planned with.
   */
  private claim(batch: PlannedBatch): Claim {
    const ranges = batch.ranges.filter((range) => this.owned.get(range.key) === batch.tokens.get(range.key));
    const expected = new Map<string, number | null>();
    for (const range of ranges) expected.set(range.key, this.stored.get(range.key) ?? null);
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const claim: Claim & { finish(): void } = {
      ranges,
      keys: new Set(ranges.map((range) => range.key)),
      expected,
      fenced: new Set(),
      done,
      finish,
    };
    batch.claimed = claim;
    return claim;
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
      const failure = userFunctionError('keyDeserializer', error, { topic, partition, offset }, true);
      return new UndeserializableRecord(topic, partition, offset, failure, rawKey, rawValue);
    }
    try {
      value = valueDeserializer(rawValue);
    } catch (error) {
      const failure = userFunctionError('valueDeserializer', error, { topic, partition, offset }, true);
      return new UndeserializableRecord(topic, partition, offset, failure, rawKey, rawValue);
    }
    return { topic, partition, offset, key, value, timestamp, headers };
  }

  /**
   * Runs the batch's outputs and commits exactly the ranges they were handed, in the order
   * `delivery` requires, each compare-and-set against what the store held when the batch started,
   * with the batch's changes to the context's operator state in the same write. While it runs, a revoke of one of its partitions waits for it (see `rebalance`).
   */
  async runBatch(time: number, outputs: (transaction: unknown) => Promise<void>): Promise<void> {
    const batch = this.batches.get(time);
    if (batch === undefined) throw new IllegalStateError(`${this.name}: batch ${time} was not generated`);
    // A batch run again (after a failed attempt) claims afresh: ownership may have changed.
    const claim = this.claim(batch) as Claim & { finish(): void };
    this.running = claim;
    const { delivery, idempotentOutput, offsetStore, groupId, logger, storeOutageBudgetMs, commitRetries } = this.options;
    const commits: OffsetCommit[] = claim.ranges.map((range) => ({ range, expectedOffset: claim.expected.get(range.key) ?? null }));
    const withDeadLetters =
      batch.dead.size === 0
        ? outputs
        : async (transaction: unknown): Promise<void> => {
            await outputs(transaction);
            await this.writeDeadLetters(batch, claim, transaction);
          };
    try {
      await commitBatch({
        store: offsetStore,
        group: groupId,
        order:
          delivery === 'at-most-once'
            ? 'before-output'
            : delivery === 'exactly-once' && !idempotentOutput
              ? 'in-transaction'
              : 'after-output',
        commits,
        outputs: withDeadLetters,
        state: this.state?.isPersistent ? () => this.state!.changesOf(time) : undefined,
        beforeCommit: () => {
          if (claim.fenced.size === 0) return;
          throw new FencedBatchError(
            `${this.name}: batch ${time} did not commit ${[...claim.fenced].join(', ')}: the group gave ` +
              `${claim.fenced.size === 1 ? 'it' : 'them'} to another member while the batch ran longer than revokeTimeoutMs ` +
              `(${this.options.revokeTimeoutMs} ms). Nothing of the batch was committed; raise revokeTimeoutMs if batches run that long`,
          );
        },
        clock: this.clock,
        logger,
        outageBudgetMs: storeOutageBudgetMs,
        maxRetries: Number.isFinite(commitRetries) ? commitRetries : undefined,
        batchTimeMs: time,
        source: this.name,
      });
      for (const { range } of commits) {
        if (this.owned.get(range.key) === batch.tokens.get(range.key)) this.stored.set(range.key, range.untilOffset);
      }
      if (this.options.mirrorOffsetsToGroup) this.mirrorToGroup(time, commits);
    } finally {
      if (this.running === claim) this.running = undefined;
      claim.finish();
    }
  }

  /**
   * Keeps the letters of the records batch `time` set aside, for its claimed partitions only (a
   * partition given up goes to its next owner, which reads and judges the record itself): inside
   * the store transaction under exactly-once, so they persist exactly when the offsets do;
   * otherwise written before the offsets commit, once per record whatever the retries.
   */
  private async writeDeadLetters(batch: PlannedBatch, claim: Claim, transaction: unknown): Promise<void> {
    const letters: DeadLetter[] = [];
    for (const { letter } of batch.dead.values()) {
      if (claim.keys.has(topicPartitionKey(letter.topic, letter.partition))) letters.push(letter);
    }
    if (letters.length === 0) return;
    const { offsetStore, groupId, logger } = this.options;
    await offsetStore.writeDeadLetters!(groupId, letters, transaction ?? undefined);
    for (const letter of letters) {
      logger.warn(
        `${this.name}: dead-lettered ${letter.topic}-${letter.partition} offset ${letter.offset} in batch ${batch.time} ` +
          `after ${letter.attempts} attempt${letter.attempts === 1 ? '' : 's'}; ${letter.operator} threw: ${letter.error}`,
        { topic: letter.topic, partition: letter.partition, offset: letter.offset, batchTimeMs: batch.time },
      );
    }
  }

  /**
   * The dead-letter policy's decision on batch `time`'s failure: run the batch again when the
   * error names one of the records the batch read (a `RecordProcessingError` with a source
   * record), counting the attempt against that record; at `maxAttempts` the record is set aside
   * and the batch runs again without it. Anything else fails the batch; a record error that the
   * policy cannot act on says why.
   */
  onBatchError(time: number, error: Error, notRecomputable?: string): BatchErrorDecision {
    const policy = this.options.recordErrors;
    const batch = this.batches.get(time);
    const failure = recordErrorOf(error);
    if (policy.policy !== 'dead-letter' || failure === undefined || batch === undefined) return { retry: false, error };
    const refuse = (reason: string): BatchErrorDecision => ({
      retry: false,
      error: new RecordProcessingError(failure.operator, failure.cause, {
        topic: failure.topic,
        partition: failure.partition,
        offset: failure.offset,
        isSourceRecord: failure.isSourceRecord,
        note: `not dead-lettered: ${reason}`,
      }),
    });
    if (!failure.isSourceRecord) {
      return refuse(
        'no single record read from Kafka is to blame (the function ran on records already combined or regrouped: ' +
          'an aggregation, a join, a window, a mapPartitions, or an output over the whole batch); ' +
          'catch the error in that function, or fix it',
      );
    }
    const { topic, partition, offset } = failure as { topic: string; partition: number; offset: number };
    const key = topicPartitionKey(topic, partition);
    const range = (batch.claimed?.ranges ?? batch.ranges).find((r) => r.key === key);
    if (range === undefined || offset < range.fromOffset || offset >= range.untilOffset) {
      return refuse(`the record is not one batch ${time} read (it reached the function from an earlier batch, through a window)`);
    }
    if (notRecomputable !== undefined) return refuse(notRecomputable);
    const id = deadLetterId({ topic, partition, offset });
    const attempts = (batch.attempts.get(id) ?? 0) + 1;
    batch.attempts.set(id, attempts);
    const { logger } = this.options;
    if (attempts < policy.maxAttempts) {
      logger.warn(
        `${this.name}: batch ${time} failed on ${topic}-${partition} offset ${offset} (attempt ${attempts} of ${policy.maxAttempts}); ` +
          'running it again',
        { error },
      );
      return { retry: true };
    }
    if (batch.dead.size >= policy.maxPerBatch) {
      return refuse(
        `batch ${time} already set aside recordErrors.maxPerBatch (${policy.maxPerBatch}) records; ` +
          'so many failures look like a bug rather than bad records: fix it, or raise maxPerBatch',
      );
    }
    const cause = failure.cause;
    batch.dead.set(id, {
      letter: {
        topic,
        partition,
        offset,
        key: null,
        value: null,
        operator: failure.operator,
        error: cause instanceof Error ? cause.message : String(cause),
        attempts,
        batchTimeMs: time,
      },
    });
    logger.warn(
      `${this.name}: batch ${time} failed on ${topic}-${partition} offset ${offset} ${attempts} time${attempts === 1 ? '' : 's'}; ` +
        'setting the record aside and running the batch without it',
      { error },
    );
    return { retry: true };
  }

  /** Records batch `time` set aside (dead letters it commits), for its BatchInfo. */
  deadLetterCount(time: number): number {
    const batch = this.batches.get(time);
    if (batch === undefined || batch.dead.size === 0) return 0;
    const keys = batch.claimed?.keys;
    let count = 0;
    for (const { letter } of batch.dead.values()) {
      if (keys === undefined || keys.has(topicPartitionKey(letter.topic, letter.partition))) count++;
    }
    return count;
  }

  /**
   * Commits the batch's ends to the Kafka consumer group too (`mirrorOffsetsToGroup`), for lag
   * tools that read Kafka. Queued behind the previous mirror commit, never awaited by the batch:
   * the store is the truth, and a failed mirror only leaves the group's view behind.
   */
  private mirrorToGroup(time: number, commits: readonly OffsetCommit[]): void {
    const offsets = commits.map(({ range }) => ({ topic: range.topic, partition: range.partition, offset: range.untilOffset }));
    if (offsets.length === 0 || this.client === undefined) return;
    const client = this.client;
    this.mirrorCommits = this.mirrorCommits
      .then(() => client.commit(offsets))
      .catch((error: unknown) =>
        this.options.logger.warn(`${this.name}: mirroring batch ${time}'s offsets to consumer group ${this.options.groupId} failed`, {
          error,
        }),
      );
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
    // The last batch's mirror commit lands before the consumer leaves the group.
    await this.mirrorCommits;
    // The store first: it may borrow the consumer (a Kafka store reads committed offsets through
    // it), and a read still running when the consumer disconnects waits out its whole timeout in
    // a libuv thread, which then holds up process.exit.
    if (this.hasStoreConnection) {
      this.hasStoreConnection = false;
      try {
        await this.options.offsetStore.close();
      } catch (error) {
        this.options.logger.warn(`${this.name}: closing offset store ${this.options.offsetStore.name} failed`, { error });
      }
    }
    await this.client?.disconnect();
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

/**
 * `records` without those set aside, filling each dead letter's key and value from its record
 * (the bytes as fetched, for a record that could not be deserialized).
 */
function withoutDead<R extends { topic: string; partition: number; offset: number }>(
  records: readonly R[],
  dead: ReadonlyMap<string, DeadRecord>,
): R[] {
  const kept: R[] = [];
  for (const record of records) {
    const entry = dead.get(deadLetterId(record));
    if (entry === undefined) {
      kept.push(record);
      continue;
    }
    const { key, value } = record as unknown as { key: unknown; value: unknown };
    entry.letter = { ...entry.letter, key: renderPayload(key), value: renderPayload(value) };
  }
  return kept;
}

/** The `RecordProcessingError` behind `error`: itself, or one in its `cause` chain (an output may wrap it). */
function recordErrorOf(error: unknown): RecordProcessingError | undefined {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (current instanceof RecordProcessingError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function parseKey(key: string): TopicPartition {
  const colon = key.lastIndexOf(':');
  return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)) };
}

function describe(p: TopicPartition & { offset?: number }): string {
  return p.offset === undefined ? `${p.topic}-${p.partition}` : `${p.topic}-${p.partition}@${p.offset}`;
}
