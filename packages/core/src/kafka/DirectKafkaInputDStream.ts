/**
 * Runs each batch of a Kafka direct stream through its stages, tick to commit: `generate` plans
 * (`BatchPlanner`), `compute` fetches (`PartitionFetcher`), `runBatch` runs the outputs and
 * commits (`commitBatch`); it also starts and stops the stream's clients.
 */
import type { BatchErrorDecision, InputSource, StreamingContextLike } from '../context/types';
import type { DStream, DStreamNode } from '../dstream/DStream';
import { FencedBatchError, IllegalStateError, StaleOffsetError } from '../errors';
import { commitBatch } from '../offsets/commitBatch';
import type { OffsetRange } from '../offsets/OffsetRange';
import { topicPartitionKey } from '../offsets/OffsetRange';
import type { KafkaGroupBinding, OffsetCommit } from '../offsets/OffsetStore';
import type { BatchInfo } from '../scheduler/events';
import { StatePersistence } from '../state/StatePersistence';
import { stateRegistryOf } from '../state/StateRegistry';
import { retry } from '../util/retry';
import { setSourcePartitionRuns, setSourcePartitionsFromRecords } from '../dstream/sourcePartitions';
import type { Clock } from '../util/Clock';
import { SystemClock } from '../util/Clock';
import { BatchPlanner, type PlannedBatch } from './BatchPlanner';
import { consumerConfig } from './consumerConfig';
import type { ConsumerRecord, ResolvedDirectStreamOptions } from './DirectStreamOptions';
import { ConsumerOptions, createKafkaConsumer, fetchesOverWire, KafkaConsumerClient } from './KafkaClient';
import { pollBatchSizeFor, readAheadBytesFor } from './fetchSizing';
import { PartitionFetcher } from './PartitionFetcher';
import { type Claim, PartitionOwnership } from './PartitionOwnership';
import { recordBuilder, RecordErrorPolicy, UndeserializableRecord } from './RecordErrorPolicy';
import { streamClaim, takeClaimed } from './claimReads';
import { causeOf, groupFenceOf } from './groupFence';
import { asStoreError, StartOffsets } from './StartOffsets';

export { DEFAULT_SESSION_TIMEOUT_MS } from './PartitionOwnership';

export { DEFAULT_ASSIGNMENT_STRATEGY } from './consumerConfig';

/** How the direct stream reaches the client library; replaced by a fake in unit tests. */
export type KafkaConsumerFactory = (config: Readonly<Record<string, unknown>>, options: ConsumerOptions) => KafkaConsumerClient;

/** The parts of a started stream, each the home of one stage (see docs/architecture.md). */
interface Stages<K, V> {
  readonly fetcher: PartitionFetcher<ConsumerRecord<K, V> | UndeserializableRecord>;
  readonly ownership: PartitionOwnership;
  readonly planner: BatchPlanner;
}

/**
 * The Kafka direct stream (Spark's `DirectKafkaInputDStream`): at each batch time it fixes one
 * `OffsetRange` per owned partition, reads exactly those records, and commits the ranges' ends to
 * the offset store in the order the delivery semantics require. The batch *is* its ranges:
 * recomputing it after a failure reads the same records.
 *
 * Where reading starts is decided by `StartOffsets`; which partitions a batch may deliver and
 * commit, across rebalances, by `PartitionOwnership`; what a failing record does, by `RecordErrorPolicy`.
 *
 * With Subscribe strategies, partitions move between the group's members on rebalance. A
 * partition revoked while a batch that includes it is running is not committed by this member;
 * that batch's output for its records may already be written, and the new owner reads them again
 * (at-least-once for that hand-over, whatever `delivery` says, unless the store fences the
 * output inside its transaction). A member gives up revoked partitions only after a commit it
 * has under way lands, so the next owner loads what it wrote.
 */
export class DirectKafkaInputDStream<K, V> implements InputSource, DStreamNode<ConsumerRecord<K, V>> {
  readonly name: string;
  /** Its batches hold the records as read from the log: a failure on one names a source record. */
  readonly yieldsSourceRecords = true;
  private mayStream = false;
  readonly keepsSourcePartitions = true;
  readonly dependencies: readonly DStream<unknown>[] = [];
  private client: KafkaConsumerClient | undefined;
  private stages: Stages<K, V> | undefined;
  private readonly batches = new Map<number, PlannedBatch>();
  /** Each claim's records, read once (`fetchClaimed`). */
  private readonly reads = new WeakMap<
    Claim,
    Promise<{ claimed: readonly OffsetRange[]; taken: ((ConsumerRecord<K, V> | UndeserializableRecord)[] | undefined)[] }>
  >();
  /** The mirror commits to the consumer group still under way (see `mirrorToGroup`). */
  private mirrorCommits: Promise<void> = Promise.resolve();
  private readonly recordErrors: RecordErrorPolicy;
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
    this.recordErrors = new RecordErrorPolicy(this.name, options as ResolvedDirectStreamOptions<unknown, unknown>);
  }

  get slideDurationMs(): number {
    return this.context.batchIntervalMs;
  }

  private get started(): Stages<K, V> {
    if (this.stages === undefined) throw new IllegalStateError(`${this.name} is not started`);
    return this.stages;
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
    const general = options as ResolvedDirectStreamOptions<unknown, unknown>;
    this.state = StatePersistence.claim(this.context, {
      store: options.offsetStore,
      group: options.groupId,
      delivery: options.delivery,
      logger: options.logger,
      source: this.name,
      isGroupManaged: options.strategy.kind !== 'Assign',
    });
    const client = this.createConsumer(consumerConfig(options), { fetchEngine: options.fetchEngine, logger: options.logger });
    this.client = client;
    try {
      await client.connect(options.connectTimeoutMs);
      signal?.throwIfAborted();
      await this.connectStore(client);
      await this.state.restore();
      signal?.throwIfAborted();
      const metadata = await client.getMetadata(options.connectTimeoutMs);
      const starts = new StartOffsets(this.name, client, general, this.clock, metadata);
      const fetcher = new PartitionFetcher(client, {
        build: recordBuilder(options),
        maxReadAheadBytes: readAheadBytesFor(options.maxBatchBytes, fetchesOverWire(options)),
        maxBufferedPerPartition: options.maxBufferedRecordsPerPartition,
        pollBatchSize: pollBatchSizeFor(this.context.batchIntervalMs, fetchesOverWire(options)),
        fetchTimeoutMs: options.fetchTimeoutMs,
        logger: options.logger,
        clock: this.clock,
      });
      const ownership = new PartitionOwnership(this.name, client, fetcher, starts, general, this.clock, this.state);
      const planner = new BatchPlanner(this.name, client, ownership, starts, fetcher, general, this.context.batchIntervalMs, () => this.isStreamed);
      this.stages = { fetcher, ownership, planner };
      const { strategy } = options;
      if (strategy.kind === 'Assign') await ownership.assign(strategy.partitions);
      else await ownership.subscribe(strategy.kind === 'Subscribe' ? strategy.topics : [strategy.pattern], signal);
    } catch (error) {
      await this.release();
      throw error;
    }
  }

  private async connectStore(client: KafkaConsumerClient): Promise<void> {
    const binding: KafkaGroupBinding = {
      groupId: this.options.groupId,
      groupMetadata: client.groupMetadata,
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

  /** Plans batch `time` (`BatchPlanner`): its ranges are fixed from here on. */
  async generate(time: number): Promise<void> {
    const { ownership, planner } = this.started;
    if (ownership.failure) throw ownership.failure;
    const batch = await planner.plan(time);
    this.batches.set(time, batch);
    this.context.postInputEvent?.({
      type: 'InputPlanned',
      input: this.name,
      batchTimeMs: time,
      partitions: batch.ranges.map((range, index) => ({ ...range.toJSON(), logEndOffset: batch.logEndOffsets[index]! })),
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

  /** Fetches batch `time`'s records (`PartitionFetcher`): each claimed range's partition in offset order, partitions in range order. */
  async compute(time: number): Promise<readonly ConsumerRecord<K, V>[]> {
    const batch = this.planned(time);
    const { fetcher, ownership } = this.started;
    if (ownership.failure) throw ownership.failure;
    const claim = (batch.claimed ??= ownership.claim(batch.ranges, batch.tokens));
    const { claimed, taken } = await this.fetchClaimed(fetcher, claim);
    // Partitions the batch dropped meanwhile (a revoke, see `PartitionOwnership.drain`) are left out.
    const kept = claimed.filter((range) => claim.keys.has(range.key));
    const fetched = taken.filter((records, index): records is NonNullable<typeof records> => claim.keys.has(claimed[index].key));
    // One partition hands its array over as is; otherwise one copy, no spreads.
    const records = fetched.length === 1 ? fetched[0] : ([] as (ConsumerRecord<K, V> | UndeserializableRecord)[]).concat(...fetched);
    const delivered = this.recordErrors.recordsOf(batch, records);
    batch.numRecords = delivered.length;
    // Which partition each record came from, for state kept per source partition.
    if (delivered !== records) return setSourcePartitionsFromRecords(delivered) as ConsumerRecord<K, V>[];
    const partitions = kept.map((range) => range.key);
    return setSourcePartitionRuns(delivered, partitions, fetched.map((part) => part.length)) as ConsumerRecord<K, V>[];
  }

  /**
   * Whether batches stream (`streamBatch`): set at start by `planStreaming` when the one reader
   * of this stream folds its batches as they are read, and taken only under at-least-once: under
   * the other deliveries a batch is read whole before its commit or transaction (see `runBatch`).
   */
  get isStreamed(): boolean {
    return this.mayStream && this.options.delivery === 'at-least-once';
  }

  set isStreamed(isStreamed: boolean) {
    this.mayStream = isStreamed;
  }

  /**
   * Hands batch `time`'s records to `consume` as they are read, partition by partition in chunks,
   * none kept (`PartitionFetcher.stream`): how the batch of a stream whose one reader folds it
   * (see `planStreaming`) is read, so that memory follows the chunk and not the batch. A revoke
   * while the batch streams ends every range where its records reached (`Claim.streamedThrough`,
   * see `PartitionOwnership.drain`): the batch commits what its outputs saw, and what comes after
   * is read by the next owner or, for a partition kept, the next batch. Called only while `isStreamed`.
   */
  async streamBatch(time: number, consume: (records: readonly ConsumerRecord<K, V>[], partition: string | undefined) => void): Promise<void> {
    const batch = this.planned(time);
    const { fetcher, ownership } = this.started;
    if (ownership.failure) throw ownership.failure;
    const claim = (batch.claimed ??= ownership.claim(batch.ranges, batch.tokens));
    let numRecords = 0;
    await streamClaim(this.name, fetcher, claim, (range, records) => {
      const delivered = this.recordErrors.recordsOf(batch, records);
      numRecords += delivered.length;
      if (delivered.length > 0) consume(delivered, range.key);
    });
    batch.numRecords = numRecords;
  }

  /**
   * The records of each of `claim`'s ranges, read once per claim: by `runBatch` before its commit
   * or transaction (at-most-once, exactly-once), else by `compute` when the outputs ask. Once they
   * are read, the claim's partitions stay with the batch (`isDelivered`); until then a revoke
   * drops the partitions it takes (see `PartitionOwnership.drain`), and their ranges read undefined.
   */
  private fetchClaimed(
    fetcher: PartitionFetcher<ConsumerRecord<K, V> | UndeserializableRecord>,
    claim: Claim,
  ): Promise<{ claimed: readonly OffsetRange[]; taken: ((ConsumerRecord<K, V> | UndeserializableRecord)[] | undefined)[] }> {
    let reading = this.reads.get(claim);
    if (reading === undefined) {
      const claimed = claim.ranges;
      reading = Promise.all(claimed.map((range) => takeClaimed(this.name, fetcher, range, claim))).then((taken) => {
        claim.isDelivered = true;
        return { claimed, taken };
      });
      this.reads.set(claim, reading);
    }
    return reading;
  }

  /**
   * Runs the batch's outputs and commits exactly the ranges they were handed (`commitBatch`), in
   * the order `delivery` requires, each compare-and-set against what the store held when the batch
   * started, with the batch's changes to the context's operator state in the same write. While it
   * runs, a revoke of one of its partitions waits for it (see `PartitionOwnership`).
   */
  async runBatch(time: number, outputs: (transaction: unknown) => Promise<void>): Promise<void> {
    const batch = this.planned(time);
    const { ownership } = this.started;
    // A batch run again (after a failed attempt) claims afresh: ownership may have changed.
    const claim = ownership.claim(batch.ranges, batch.tokens);
    batch.claimed = claim;
    ownership.run(claim);
    const { delivery, idempotentOutput, offsetStore, groupId, logger, storeOutageBudgetMs, commitRetries } = this.options;
    const commits: OffsetCommit[] = claim.ranges.map((range) => ({ range, expectedOffset: claim.expected.get(range.key) ?? null }));
    const order = delivery === 'at-most-once' ? 'before-output' : delivery === 'exactly-once' && !idempotentOutput ? 'in-transaction' : 'after-output';
    // A revoke may drop a partition whose records the batch has not read yet (see `PartitionOwnership.drain`).
    claim.commits = commits;
    claim.canDrop = true;
    const withDeadLetters =
      batch.dead.size === 0
        ? outputs
        : async (transaction: unknown): Promise<void> => {
            await outputs(transaction);
            await this.recordErrors.writeDeadLetters(batch, claim.keys, transaction);
          };
    try {
      // Read before offsets commit first (at-most-once) or a transaction opens (exactly-once), so
      // that the commits are final before either: a revoke while the records are read drops the
      // partitions it takes (librdkafka stops fetching them) instead of waiting for this batch,
      // which would wait for their records, up to revokeTimeoutMs.
      if (order !== 'after-output') await this.fetchClaimed(this.started.fetcher, claim);
      const isCommitted = await commitBatch({
        store: offsetStore,
        group: groupId,
        order,
        commits,
        outputs: withDeadLetters,
        // State only of the partitions the batch commits: one given up meanwhile is its next owner's.
        state: this.state?.isPersistent ? () => this.state!.changesOf(time, committable(claim)) : undefined,
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
      }).then(
        () => true,
        (error: unknown) => this.replanAfterRefusedCommit(batch, claim, error).then(() => false),
      );
      if (!isCommitted) return;
      ownership.committed(claim.ranges, batch.tokens);
      if (claim.cut.size > 0) {
        const replanned = ownership.replanCut(claim, batch.tokens);
        if (replanned.length > 0) logger.info(`${this.name}: partitions planned again where the batch a revoke ended had reached`, { partitions: replanned });
      }
      if (this.options.mirrorOffsetsToGroup) this.mirrorToGroup(time, commits);
    } finally {
      claim.finish();
    }
  }

  /**
   * Recovers from a commit the store refused because it holds another offset for one of the
   * batch's partitions (`StaleOffsetError`): in a group, a member that lost the partition
   * committed it after this member loaded it (its batch outlasted `revokeTimeoutMs` and was past
   * its fence). Nothing of this batch was written: a refused commit writes no offset, and under
   * exactly-once its transaction aborted with the outputs' writes. So instead of stopping, the
   * member reloads what the store holds for the batch's partitions it still owns and plans them
   * from there: the other member's commit stands (exactly-once: its transaction committed, so its
   * outputs did too) and is not read again, and nothing past it is skipped. Batches planned before
   * the reload do not claim those partitions. The batch then reports no ranges and no records.
   * The same holds for a commit the group coordinator refused because this member's generation
   * is over (`ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`, `FENCED_INSTANCE_ID`: a rebalance moved on
   * while the batch ran; `KafkaOffsetStore` and `KafkaTransactionalSink` carry the generation):
   * nothing was committed, and the partitions the member still owns are planned again from what
   * the store holds (at-least-once delivers the batch's records again, as it may).
   * Anything else is rethrown, as are these refusals in an `Assign` job (a second copy of the job
   * commits: stop it) and in a job with state (its state in memory counted the batch; a restart
   * reloads the state with the offsets).
   */
  private async replanAfterRefusedCommit(batch: PlannedBatch, claim: Claim & { finish(): void }, error: unknown): Promise<void> {
    const stale = causeOf(error, StaleOffsetError);
    const fence = stale === undefined ? groupFenceOf(error) : undefined;
    if (
      (stale === undefined && fence === undefined) ||
      this.options.strategy.kind === 'Assign' ||
      stateRegistryOf(this.context).operators.length > 0
    ) {
      throw error;
    }
    const { ownership } = this.started;
    const { offsetStore, groupId, logger, storeOutageBudgetMs } = this.options;
    const owned = claim.ranges.filter((range) => ownership.isOwned(range.key, batch.tokens.get(range.key)));
    let loaded;
    try {
      loaded = await retry(() => offsetStore.load(groupId, owned.map(({ topic, partition }) => ({ topic, partition }))), {
        clock: this.clock,
        maxAttempts: Number.POSITIVE_INFINITY,
        maxElapsedMs: storeOutageBudgetMs,
        maxDelayMs: 5000,
      });
    } catch (loadError) {
      logger.error(`${this.name}: could not reload stored offsets after the refused commit of batch ${batch.time}`, { error: loadError });
      throw error;
    }
    const replanned = ownership.replan(owned, batch.tokens, loaded);
    batch.claimed = { ...claim, ranges: [], keys: new Set() };
    batch.numRecords = 0;
    const why =
      stale !== undefined
        ? `${stale.topic}-${stale.partition} holds offset ${stale.actualOffset ?? 'none'} where the batch expected ` +
          `${stale.expectedOffset ?? 'none'}, written by a member that lost the partition after this one loaded it`
        : `the group coordinator refused it (${fence!.message}): a rebalance moved on while the batch ran`;
    logger.warn(
      `${this.name}: batch ${batch.time} was not committed: ${why}. ` +
        `Planning from the stored offsets: ${replanned.join(', ') || 'none still owned'}`,
      stale === undefined
        ? { batchTimeMs: batch.time, code: fence!.code }
        : { batchTimeMs: batch.time, topic: stale.topic, partition: stale.partition, offset: stale.actualOffset },
    );
  }

  /** The `recordErrors` policy's decision on batch `time`'s failure (see `RecordErrorPolicy.decide`). */
  onBatchError(time: number, error: Error, notRecomputable?: string): BatchErrorDecision {
    return this.recordErrors.decide(this.batches.get(time), error, notRecomputable);
  }

  /** Records batch `time` set aside (dead letters it commits), for its BatchInfo. */
  deadLetterCount(time: number): number {
    return this.recordErrors.deadLetterCount(this.batches.get(time));
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

  /** Feeds the planner's backpressure estimator with the batch's processing rate. */
  onBatchCompleted(info: BatchInfo): void {
    this.stages?.planner.onBatchCompleted(info);
  }

  clear(time: number): void {
    for (const batchTime of this.batches.keys()) if (batchTime <= time) this.batches.delete(batchTime);
  }

  /** Stops fetching, leaves the group, and closes the offset store. */
  async stop(): Promise<void> {
    if (this.isStopped) return;
    await this.release();
  }

  private planned(time: number): PlannedBatch {
    const batch = this.batches.get(time);
    if (batch === undefined) throw new IllegalStateError(`${this.name}: batch ${time} was not generated`);
    return batch;
  }

  private async release(): Promise<void> {
    this.isStopped = true;
    await this.stages?.fetcher.stop();
    await this.stages?.ownership.settled();
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

/** The partitions a batch commits (state included): those it claimed and was not fenced off. */
function committable(claim: { readonly keys: ReadonlySet<string>; readonly fenced: ReadonlySet<string> }): ReadonlySet<string> {
  if (claim.fenced.size === 0) return claim.keys;
  return new Set([...claim.keys].filter((key) => !claim.fenced.has(key)));
}
