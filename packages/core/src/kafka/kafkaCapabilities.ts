/**
 * The capability interfaces through which dstream uses a Kafka client: a consumer, a transactional
 * producer, a group-offsets reader and a state-topic reader. `KafkaClient.ts` and its sibling client
 * files implement them over the client library; everything else sees only these, so no library
 * object leaves those files.
 */
import type { TopicPartition } from '../offsets/OffsetRange';
import type { GroupMetadata } from '../offsets/OffsetStore';

/** A topic-partition and an offset (or, for `offsetsForTimes`, a timestamp in ms). */
export interface TopicPartitionOffset extends TopicPartition {
  readonly offset: number;
}

/** One record header as the client delivers it. */
export interface KafkaHeader {
  readonly key: string;
  readonly value: Buffer;
}

/** Where a fetched record sits in the log: all a record built by a `RecordBuilder` must keep. */
export interface FetchedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/**
 * Builds the caller's record from one fetched record's fields (`timestamp`: create or log-append
 * time in ms since the epoch, -1 when the broker sent none). The adapter calls it once per record
 * and makes no object of its own, so a record costs one allocation, not two. It must not throw.
 */
export type RecordBuilder<R extends FetchedRecord> = (
  topic: string,
  partition: number,
  offset: number,
  key: Buffer | null,
  value: Buffer | null,
  timestamp: number,
  headers: readonly KafkaHeader[],
) => R;

/** What one `consume` call returned: records, and partitions found at their log end (with that offset). */
export interface ConsumeResult<R extends FetchedRecord> {
  readonly messages: readonly R[];
  /** Bytes of each message's key and value as fetched, in the order of `messages`: what the fetcher's memory bounds count. */
  readonly sizes: ArrayLike<number>;
  readonly endsReached: readonly TopicPartitionOffset[];
}

/** The log's bounds: `low` is the first offset still stored, `high` the next offset to be written. */
export interface WatermarkOffsets {
  readonly low: number;
  readonly high: number;
}

/** Topics and their partition ids, as the cluster's metadata reports them. */
export interface ClusterMetadata {
  readonly topics: ReadonlyArray<{ readonly name: string; readonly partitions: readonly number[] }>;
}

/** A consumer-group rebalance: partitions handed to this member, or taken from it. */
export interface RebalanceEvent {
  readonly type: 'assign' | 'revoke';
  readonly partitions: readonly TopicPartition[];
}

/**
 * The consumer operations dstream needs, promise-based. Synchronous methods throw `KafkaError`;
 * asynchronous ones reject with it.
 */
export interface KafkaConsumerClient {
  /** `bootstrap.servers`, for error messages. */
  readonly brokers: string;
  /**
   * The consumer's group membership, for a transactional producer's `sendOffsetsToTransaction`:
   * opaque outside the Kafka client files (`RdKafkaConsumerClient.ts`, `kafkaProducers.ts`).
   */
  readonly groupMetadata: GroupMetadata;
  /** Connects and reads cluster metadata, rejecting with a `KafkaError` naming the brokers after `timeoutMs`. */
  connect(timeoutMs: number): Promise<void>;
  /** Metadata for all topics of the cluster. */
  getMetadata(timeoutMs: number): Promise<ClusterMetadata>;
  /**
   * Asks the partition leader for the log's current bounds. A blocking call on a libuv threadpool
   * thread that waits behind the consumer's in-flight fetch: prefer `cachedWatermarkOffsets`.
   */
  queryWatermarkOffsets(partition: TopicPartition, timeoutMs: number): Promise<WatermarkOffsets>;
  /**
   * The log's bounds as the last fetch response for the partition reported them, without asking
   * the broker; undefined until a fetch of the partition returned. Stale by up to one fetch (and
   * frozen while the partition is paused): the log may have grown since, never shrunk below it
   * unless truncated.
   */
  cachedWatermarkOffsets(partition: TopicPartition): WatermarkOffsets | undefined;
  /** For each partition (offset = a timestamp in ms), the first offset whose record time is at or after it; -1: none. */
  offsetsForTimes(partitions: readonly TopicPartitionOffset[], timeoutMs: number): Promise<TopicPartitionOffset[]>;
  /** Replaces the assignment; fetching starts at the given offsets. */
  assign(partitions: readonly TopicPartitionOffset[]): void;
  /** Removes the whole assignment. */
  unassign(): void;
  /** Adds partitions to the assignment (cooperative protocol). */
  incrementalAssign(partitions: readonly TopicPartitionOffset[]): void;
  /** Removes partitions from the assignment (cooperative protocol). */
  incrementalUnassign(partitions: readonly TopicPartition[]): void;
  /** `EAGER`, `COOPERATIVE`, or `NONE` before the consumer joined a group. */
  rebalanceProtocol(): string;
  /**
   * Joins the group for these topics (a RegExp subscribes to every matching topic). The library
   * does not assign on its own: `onRebalance` must answer each event with assign/unassign.
   */
  subscribe(topics: ReadonlyArray<string | RegExp>, onRebalance: (event: RebalanceEvent) => void): void;
  /**
   * Waits up to `timeoutMs` for up to `maxMessages` records of the assigned, unpaused partitions,
   * each made by `build`.
   */
  consume<R extends FetchedRecord>(maxMessages: number, timeoutMs: number, build: RecordBuilder<R>): Promise<ConsumeResult<R>>;
  /** Stops fetching these partitions until `resume`. */
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  /** Moves an assigned partition's fetch position; records buffered in the client from the old position are dropped. */
  seek(position: TopicPartitionOffset, timeoutMs: number): Promise<void>;
  /** The next offset the client will return for each partition (-1001: not yet known). */
  position(partitions: readonly TopicPartition[]): TopicPartitionOffset[];
  /** Commits offsets (next offset to read) to the consumer group and waits for the broker's answer. */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** The group's committed offsets; a partition with none is reported with a negative offset. */
  committed(partitions: readonly TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]>;
  /** Leaves the group and closes connections. Idempotent. */
  disconnect(): Promise<void>;
}

/** Why librdkafka, or its documentation, refuses one property of a consumer configuration. */
export interface KafkaConfigRefusal {
  /** The property refused. */
  readonly property: string;
  /**
   * `unknown`: this librdkafka has no such property; `invalid`: it refuses the value;
   * `producer-only`: a producer property, which a consumer would ignore.
   */
  readonly kind: 'unknown' | 'invalid' | 'producer-only';
  /** librdkafka's own words, with a secret property's value replaced by `***`. */
  readonly reason: string;
}

/** librdkafka settings as a client takes them. */
export type KafkaParams = Readonly<Record<string, string | number | boolean>>;

/**
 * A consumer that never subscribes: it reads the group's committed offsets and commits as a
 * non-member (generation -1, empty member id), which the broker accepts only while the group has
 * no active members.
 */
export interface GroupOffsetsClient {
  /** The group's committed offsets; a partition with none is reported with a negative offset. */
  committed(partitions: readonly TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]>;
  /** Commits offsets (next offset to read) and waits for the coordinator's answer. */
  commit(offsets: readonly TopicPartitionOffset[]): void;
  /** Closes connections. Idempotent. */
  disconnect(): Promise<void>;
}

/** A record a transaction produces; `partition` omitted lets the partitioner choose by key. */
export interface OutputRecord {
  readonly topic: string;
  readonly key: string | Buffer | null;
  readonly value: string | Buffer | null;
  readonly partition?: number;
  readonly headers?: ReadonlyArray<Record<string, string | Buffer>>;
}

/** A producer with `transactional.id`: the librdkafka transaction API as promises. */
export interface TransactionalProducer {
  /** Registers the transactional.id with the coordinator, fencing older instances with the same id. */
  initTransactions(timeoutMs: number): Promise<void>;
  beginTransaction(): Promise<void>;
  /** Produces one record in the open transaction; resolves when the broker acknowledged it. */
  send(record: OutputRecord): Promise<void>;
  /**
   * Adds the group's offsets to the open transaction, fenced by the group generation of `group`:
   * the membership a Kafka direct stream's consumer lends through its `KafkaGroupBinding`.
   */
  sendOffsetsToTransaction(offsets: readonly TopicPartitionOffset[], group: GroupMetadata, timeoutMs: number): Promise<void>;
  commitTransaction(timeoutMs: number): Promise<void>;
  /** Aborts the open transaction; records not yet handed to the client are dropped and their sends rejected. */
  abortTransaction(timeoutMs: number): Promise<void>;
  /** Closes connections. Idempotent. */
  disconnect(): Promise<void>;
}

/** Creates a `TransactionalProducer`; replaced by a fake in unit tests. */
export type TransactionalProducerFactory = (config: KafkaParams) => TransactionalProducer;

/** A producer that is not transactional: idempotent (no duplicates or reordering from its own retries), each send acknowledged. */
export interface RecordProducer {
  connect(timeoutMs: number): Promise<void>;
  /** Produces one record; resolves when the broker acknowledged it (acks=all). */
  send(record: OutputRecord): Promise<void>;
  /** Closes connections. Idempotent. */
  disconnect(): Promise<void>;
}

/** Creates a `RecordProducer`; replaced by a fake in unit tests. */
export type RecordProducerFactory = (config: KafkaParams) => RecordProducer;

/** One record of a state topic: a tombstone has a null value. */
export interface StateTopicRecord {
  readonly key: string;
  readonly value: string | null;
}

/** Creates and reads the compacted topic a transactional sink keeps operator state in. */
export interface StateTopicClient {
  /** Creates `topic` (one partition, `cleanup.policy=compact`) unless it exists. */
  ensureTopic(topic: string, timeoutMs: number): Promise<void>;
  /** Every committed record of the topic's partition 0, oldest first (read_committed), up to its end. */
  readAll(topic: string, timeoutMs: number): Promise<StateTopicRecord[]>;
}

/** Creates a `StateTopicClient` from the sink's settings (brokers, security); replaced by a fake in unit tests. */
export type StateTopicClientFactory = (params: KafkaParams) => StateTopicClient;
