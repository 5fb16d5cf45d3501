/**
 * Decides where each partition a stream starts owning begins to read: its stored offset, else the
 * strategy's explicit offset, else `startingOffsets` (at start) or `newPartitions` (a partition
 * that appeared later), each checked against the log's bounds under the `offsetOutOfRange` policy.
 * Also checks, once at start, that the partitions and topics a strategy names exist.
 */
import { DStreamError, KafkaError, OffsetOutOfRangeError, OffsetStoreError } from '../errors';
import { TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { OffsetStore, StoredOffsets } from '../offsets/OffsetStore';
import type { Clock } from '../util/Clock';
import { retry } from '../util/retry';
import type { ResolvedDirectStreamOptions } from './DirectStreamOptions';
import { editDistance, nearestName } from './kafkaParams';
import type { ClusterMetadata, KafkaConsumerClient, TopicPartitionOffset, WatermarkOffsets } from './KafkaClient';

/** librdkafka's "Unknown partition" (local metadata) and the broker's UNKNOWN_TOPIC_OR_PART. */
const ERR_UNKNOWN_PARTITION = -190;
const ERR_UNKNOWN_TOPIC_OR_PART = 3;

/** Why partitions are being started: the stream's start, or a later assignment by the group. */
export type StartReason = 'start' | 'assigned';

/** Where newly owned partitions start, and what the store held for each (null: nothing). */
export interface ResolvedStarts {
  readonly positions: TopicPartitionOffset[];
  readonly stored: ReadonlyMap<string, number | null>;
}

/**
 * The start-offset rules of one stream (Spark's `DirectKafkaInputDStream.start` and its
 * `ConsumerStrategy.onStart`), over the partitions the cluster had when the stream started.
 */
export class StartOffsets {
  /** Partitions that existed when the stream started: any other is new and starts per `newPartitions`. */
  private readonly knownAtStart = new Set<string>();

  constructor(
    private readonly name: string,
    private readonly client: KafkaConsumerClient,
    private readonly options: ResolvedDirectStreamOptions<unknown, unknown>,
    private readonly clock: Clock,
    metadata: ClusterMetadata,
  ) {
    for (const topic of metadata.topics) {
      for (const partition of topic.partitions) this.knownAtStart.add(topicPartitionKey(topic.name, partition));
    }
    const { strategy } = options;
    if (strategy.kind === 'Subscribe') this.checkSubscribedTopics(strategy.topics, metadata);
    if (strategy.kind === 'Assign') this.checkAssignedPartitions(strategy.partitions);
  }

  /**
   * The log bounds of a partition this member was just given. Right after a topic gains
   * partitions, the group can assign one before this member's metadata knows it, and the query
   * fails with "Unknown partition"; right after a topic is created, or while its leader moves, the
   * broker answers "Not leader for partition" or "Leader not available" (any retriable error):
   * asked again every 500 ms until the metadata catches up, for up to
   * `connectTimeoutMs + metadataRefreshMs`, instead of failing the member.
   */
  private async boundsOfAssigned(p: TopicPartition, timeoutMs: number): Promise<WatermarkOffsets> {
    const { connectTimeoutMs, metadataRefreshMs, logger } = this.options;
    const deadline = this.clock.nowMs() + connectTimeoutMs + metadataRefreshMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.queryWatermarkOffsets(p, timeoutMs);
      } catch (error) {
        const isUnknown =
          error instanceof KafkaError && (error.code === ERR_UNKNOWN_PARTITION || error.code === ERR_UNKNOWN_TOPIC_OR_PART);
        const isTransient = isUnknown || (error instanceof KafkaError && error.retriable);
        if (!isTransient || this.clock.nowMs() >= deadline) throw error;
        if (attempt === 1) {
          logger.info(
            isUnknown
              ? `${this.name}: ${p.topic}-${p.partition} is not in this member's metadata yet; asking again`
              : `${this.name}: reading the bounds of ${p.topic}-${p.partition} failed (${(error as Error).message}); asking again`,
          );
        }
        await this.clock.waitUntil(this.clock.nowMs() + 500);
      }
    }
  }

  /**
   * Start offsets for partitions this member just got: stored, else explicit, else (at start, or
   * for partitions that existed then) `startingOffsets`, else `newPartitions`; then checked
   * against the log's bounds. A store that fails to load is retried within `storeOutageBudgetMs`,
   * except at start, where the failure is reported at once and nothing is consumed.
   */
  async resolve(partitions: readonly TopicPartition[], reason: StartReason): Promise<ResolvedStarts> {
    const stored = new Map<string, number | null>();
    if (partitions.length === 0) return { positions: [], stored };
    const { offsetStore, groupId, strategy, startingOffsets, newPartitions, logger, storeOutageBudgetMs, connectTimeoutMs } =
      this.options;
    let storedOffsets: StoredOffsets;
    try {
      storedOffsets = await retry(() => offsetStore.load(groupId, partitions), {
        clock: this.clock,
        maxAttempts: Number.POSITIVE_INFINITY,
        maxElapsedMs: reason === 'start' ? 0 : storeOutageBudgetMs,
        maxDelayMs: 5000,
        onRetry: (error, attempt, delayMs) =>
          logger.warn(
            `${this.name}: offset store ${offsetStore.name} failed loading offsets of assigned partitions ` +
              `(attempt ${attempt}); retrying in ${delayMs} ms, for up to ${storeOutageBudgetMs} ms in all`,
            { error },
          ),
      });
    } catch (error) {
      throw asStoreError(offsetStore, error, 'could not load stored offsets; nothing was consumed from these partitions');
    }
    const bounds = await Promise.all(partitions.map((p) => this.boundsOfAssigned(p, connectTimeoutMs)));
    const fromTimestamp: TopicPartitionOffset[] = [];
    const positions = partitions.map((p, index) => {
      const key = topicPartitionKey(p.topic, p.partition);
      const storedOffset = storedOffsets.get(key);
      stored.set(key, storedOffset ?? null);
      if (storedOffset !== undefined) return { ...p, offset: this.checkInRange(p, storedOffset, bounds[index], 'stored') };
      const explicit = strategy.offsets.get(key);
      if (explicit !== undefined) return { ...p, offset: this.checkInRange(p, explicit, bounds[index], 'explicit') };
      const start = reason === 'start' || this.knownAtStart.has(key) ? startingOffsets : newPartitions;
      if (start === 'earliest') return { ...p, offset: bounds[index].low };
      if (start === 'latest') return { ...p, offset: bounds[index].high };
      fromTimestamp.push({ ...p, offset: start.timestampMs });
      return { ...p, offset: -1 };
    });
    if (fromTimestamp.length > 0) {
      const found = await this.client.offsetsForTimes(fromTimestamp, connectTimeoutMs);
      for (const entry of found) {
        const index = partitions.findIndex((p) => p.topic === entry.topic && p.partition === entry.partition);
        // No record at or after the time: start at the end, where the next record will be.
        positions[index] = { ...partitions[index], offset: entry.offset >= 0 ? entry.offset : bounds[index].high };
      }
    }
    return { positions, stored };
  }

  /** Applies the `offsetOutOfRange` policy to an offset outside the log [low, high]. */
  checkInRange(p: TopicPartition, offset: number, bounds: WatermarkOffsets, what: string): number {
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

  private checkAssignedPartitions(partitions: readonly TopicPartition[]): void {
    const missing = partitions.filter((p) => !this.knownAtStart.has(topicPartitionKey(p.topic, p.partition)));
    if (missing.length === 0) return;
    throw new KafkaError(
      `ConsumerStrategies.Assign names partitions the cluster at ${this.options.brokers} does not have: ` +
        `${missing.map((p) => `${p.topic}-${p.partition}`).join(', ')}. Create them, or fix the strategy`,
    );
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
}

/** A store's failure as the `DStreamError` a start reports: retriable unless the store said otherwise. */
export function asStoreError(store: OffsetStore, error: unknown, what: string): DStreamError {
  if (error instanceof DStreamError) return error;
  return new OffsetStoreError(store.name, `${what}: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
    retriable: true,
  });
}
