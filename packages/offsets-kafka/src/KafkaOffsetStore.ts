import { checkExpectedOffsets, ConfigError, OffsetStoreError, StoreClient, SystemClock, redactedView, retry } from '@dstream/core';
import type {
  DeadLetter,
  KafkaGroupBinding,
  OffsetCommit,
  OffsetStore,
  OffsetStoreBinding,
  StoredOffsets,
  TopicPartition,
} from '@dstream/core';
import {
  offsetsOf,
  partitionsOf,
  serializeByGroup,
  toStoredOffsets,
  toStoreError,
} from './groupOffsets';
import { checkDeadLetterTopic, deadLetterRecords, deadLettersOf } from './deadLetterTopic';
import {
  connectGroupOffsetsClient,
  createRecordProducer,
  createStateTopicClient,
  GroupOffsetsClient,
  KafkaParams,
  RecordProducer,
  RecordProducerFactory,
  StateTopicClient,
  StateTopicClientFactory,
} from '@dstream/core/internal';

/** Options of `KafkaOffsetStore`. All optional when the store is used by a Kafka direct stream. */
export interface KafkaOffsetStoreOptions {
  /**
   * `bootstrap.servers` for standalone use: reading and committing a group's offsets without a
   * running stream (tools, verifiers, tests). Ignored when a Kafka direct stream connects the store.
   */
  readonly brokers?: string;
  /** Further librdkafka settings of the standalone consumers (security, `client.id`); not `group.id`. */
  readonly kafkaParams?: KafkaParams;
  /** How long a read of committed offsets, or connecting in standalone mode, may take. Default 10000. */
  readonly requestTimeoutMs?: number;
  /**
   * A topic for the records the dead-letter policy sets aside (`recordErrors: { policy:
   * 'dead-letter' }`; needs `brokers`). Each batch's letters are produced, and acknowledged by the
   * broker, before its offsets commit: a crash in between may write a letter twice (the next run
   * sets the record aside again), never lose one. Created on `connect()` (one partition,
   * compacted: one letter per record) if missing. Without it the store keeps no dead letters.
   */
  readonly deadLetterTopic?: string;
}

/** What a store with a dead-letter topic holds: the producer, and the client that creates and reads the topic. */
interface DeadLetterClients {
  readonly producer: RecordProducer;
  readonly topics: StateTopicClient;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const STORE = 'kafka';
/** The clock of the standalone reads' retries (a store has no context clock). */
const STANDALONE_CLOCK = new SystemClock();

/** How an open store reaches the group: through its stream's consumer, or its own consumers. */
type Mode = (
  | { readonly kind: 'bound'; readonly binding: KafkaGroupBinding }
  | { readonly kind: 'standalone'; readonly brokers: string; readonly clients: Map<string, Promise<GroupOffsetsClient>> }
) & {
  /** The dead-letter topic's producer and reader, with `deadLetterTopic`. */
  readonly deadLetters?: DeadLetterClients;
};

/**
 * Keeps offsets in the consumer group itself, where `kafka-consumer-groups --describe` shows them
 * with each partition's lag. Used by a Kafka direct stream, it reads and commits through the
 * stream's own consumer, so commits carry the member's group generation and Kafka rejects those
 * of a member that lost the partition in a rebalance.
 *
 * A commit is compare-and-set by read-compare-commit: it reads the committed offsets, rejects
 * with `StaleOffsetError` if any differs from the commit's `expectedOffset`, then commits all
 * partitions in one OffsetCommit request. Kafka has no conditional commit, so the read and the
 * write are two steps: they are serialized within the process, and across processes only the
 * group generation fences (Subscribe strategies). With `ConsumerStrategies.Assign` nothing fences
 * two copies of a job; use `KafkaTransactionalSink` or another transactional store there.
 *
 * The stream's consumer commits asynchronously while its fetch loop consumes (librdkafka serves
 * the commit's answer from inside `consume()`), and the commit resolves with that answer: the
 * batch still waits for the coordinator before it completes, so the compare-and-set holds as
 * before, but the event loop keeps fetching meanwhile instead of blocking for the round trip
 * (~7–20 ms on a busy loopback broker). With no fetch loop running the commit is synchronous.
 *
 * @example
 * const stream = KafkaUtils.createDirectStream(ssc, {
 *   kafkaParams: { 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'wordcount' },
 *   strategy: ConsumerStrategies.Subscribe(['lines']),
 *   offsetStore: new KafkaOffsetStore(),
 * });
 */
export class KafkaOffsetStore implements OffsetStore {
  readonly name = STORE;
  readonly supportsTransactions = false;
  private readonly brokers: string | undefined;
  private readonly kafkaParams: KafkaParams;
  private readonly requestTimeoutMs: number;
  private readonly deadLetterTopic: string | undefined;
  /**
   * Produces the letters to `deadLetterTopic` and waits for the broker to acknowledge each (the
   * stream calls it before the batch's offsets commit). Present with `deadLetterTopic`.
   */
  readonly writeDeadLetters?: (group: string, letters: readonly DeadLetter[]) => Promise<void>;
  /** The letters of `group` in the dead-letter topic, one per record, in (topic, partition, offset) order. Present with `deadLetterTopic`. */
  readonly loadDeadLetters?: (group: string) => Promise<DeadLetter[]>;
  private readonly lifecycle: StoreClient<Mode>;

  constructor(
    options: KafkaOffsetStoreOptions = {},
    private readonly createProducer: RecordProducerFactory = createRecordProducer,
    private readonly createTopicClient: StateTopicClientFactory = createStateTopicClient,
  ) {
    const { brokers, kafkaParams = {}, requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS } = options;
    if (brokers !== undefined && (typeof brokers !== 'string' || brokers.trim().length === 0)) {
      throw new ConfigError('brokers', brokers, 'must be a non-empty host:port list', "Pass e.g. '127.0.0.1:9092'.");
    }
    for (const key of ['group.id', 'bootstrap.servers', 'metadata.broker.list']) {
      if (key in kafkaParams) {
        throw new ConfigError(
          `kafkaParams['${key}']`,
          kafkaParams[key],
          'is set by the store',
          'Remove it: the group is the one passed to load and commit, the brokers are the brokers option.',
        );
      }
    }
    if (!Number.isSafeInteger(requestTimeoutMs) || requestTimeoutMs <= 0) {
      throw new ConfigError('requestTimeoutMs', requestTimeoutMs, 'must be a positive integer', 'Pass a time in ms, e.g. 10000.');
    }
    this.deadLetterTopic = checkDeadLetterTopic(options.deadLetterTopic);
    if (this.deadLetterTopic !== undefined && brokers === undefined) {
      throw new ConfigError(
        'brokers',
        undefined,
        'is required with deadLetterTopic: the store produces dead letters with a producer of its own',
        "Pass the brokers the stream reads from, e.g. new KafkaOffsetStore({ brokers: '127.0.0.1:9092', deadLetterTopic }).",
      );
    }
    this.brokers = brokers;
    this.kafkaParams = kafkaParams;
    this.requestTimeoutMs = requestTimeoutMs;
    if (this.deadLetterTopic !== undefined) {
      this.writeDeadLetters = (group, letters) => this.produceDeadLetters(this.deadLetterTopic!, group, letters);
      this.loadDeadLetters = (group) => this.readDeadLetters(this.deadLetterTopic!, group);
    }
    // kafkaParams may hold SASL and TLS secrets, and a bound stream's consumer holds them too.
    this.lifecycle = new StoreClient<Mode>({
      store: STORE,
      address: brokers ?? 'the brokers of its Kafka direct stream',
      acquire: async (binding) => {
        const mode = this.modeFor(binding);
        return { ...mode, deadLetters: await this.connectDeadLetters() };
      },
      release: async (mode) => {
        await mode.deadLetters?.producer.disconnect();
        if (mode.kind !== 'standalone') return;
        const clients = await Promise.allSettled(mode.clients.values());
        await Promise.all(clients.map((client) => (client.status === 'fulfilled' ? client.value.disconnect() : undefined)));
      },
      wrap: (what, error) => toStoreError(STORE, what, error),
    });
    redactedView(this, 'KafkaOffsetStore', () => ({
      brokers: this.brokers,
      kafkaParams: this.kafkaParams,
      state: this.lifecycle.state,
    }));
  }

  /**
   * Binds to the Kafka direct stream that passes `binding.kafka`; without one, goes standalone on
   * the `brokers` option (a consumer per group is created on first use).
   */
  connect(binding?: OffsetStoreBinding): Promise<void> {
    return this.lifecycle.connect(binding);
  }

  /** Forgets the stream's binding (the stream owns its consumer) or disconnects the standalone consumers. Idempotent. */
  close(): Promise<void> {
    return this.lifecycle.close();
  }

  private modeFor(binding: OffsetStoreBinding | undefined): Mode {
    if (binding?.kafka !== undefined) return { kind: 'bound', binding: binding.kafka };
    if (this.brokers === undefined) {
      throw new ConfigError(
        'brokers',
        undefined,
        'is required when the store is not connected by a Kafka direct stream',
        'Pass the store as offsetStore of KafkaUtils.createDirectStream, or create it as new KafkaOffsetStore({ brokers }).',
      );
    }
    return { kind: 'standalone', brokers: this.brokers, clients: new Map() };
  }

  /** The group's committed offsets; through the store's life cycle, so that close waits for the read. */
  load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    return this.lifecycle.run(`could not read the committed offsets of group ${group}`, async () =>
      partitions.length === 0 ? new Map() : this.committed(group, partitions),
    );
  }

  /** Compare-and-set commit (see the class summary): reads, compares, then commits every partition in one request. */
  commit(group: string, commits: readonly OffsetCommit[]): Promise<void> {
    return this.lifecycle.use(async () => {
      if (commits.length === 0) return;
      await serializeByGroup(group, async () => {
        let stored: StoredOffsets;
        try {
          stored = await this.committed(group, partitionsOf(commits));
        } catch (error) {
          throw toStoreError(this.name, `could not read the committed offsets of group ${group} before committing`, error);
        }
        checkExpectedOffsets(this.name, group, commits, stored);
        try {
          await this.write(group, commits);
        } catch (error) {
          throw toStoreError(this.name, `could not commit to group ${group}`, error);
        }
      });
    });
  }

  private async committed(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    const mode = this.lifecycle.connection;
    if (mode.kind === 'bound') return this.bindingOf(mode.binding, group).committed(partitions, this.requestTimeoutMs);
    const client = await this.client(group);
    // Right after a broker starts, or while the group's coordinator moves, the read is refused as
    // retriable (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS): ask again within the request time.
    return retry(async () => toStoredOffsets(await client.committed(partitions, this.requestTimeoutMs)), {
      clock: STANDALONE_CLOCK,
      maxAttempts: Number.POSITIVE_INFINITY,
      maxElapsedMs: this.requestTimeoutMs,
      initialDelayMs: 100,
      maxDelayMs: 1000,
    });
  }

  private async write(group: string, commits: readonly OffsetCommit[]): Promise<void> {
    const mode = this.lifecycle.connection;
    if (mode.kind === 'bound') return this.bindingOf(mode.binding, group).commit(offsetsOf(commits));
    (await this.client(group)).commit(offsetsOf(commits));
  }

  /** Creates the dead-letter topic if missing and connects its producer (with `deadLetterTopic`); part of `connect`. */
  private async connectDeadLetters(): Promise<DeadLetterClients | undefined> {
    const topic = this.deadLetterTopic;
    if (topic === undefined || this.brokers === undefined) return undefined;
    const params = { ...this.kafkaParams, 'bootstrap.servers': this.brokers };
    const topics = this.createTopicClient(params);
    try {
      await topics.ensureTopic(topic, this.requestTimeoutMs);
    } catch (error) {
      throw toStoreError(this.name, `could not create the dead-letter topic ${topic}`, error);
    }
    const producer = this.createProducer(params);
    try {
      await producer.connect(this.requestTimeoutMs);
    } catch (error) {
      await producer.disconnect();
      throw toStoreError(this.name, `could not connect the dead-letter producer to ${this.brokers}`, error);
    }
    return { producer, topics };
  }

  private produceDeadLetters(topic: string, group: string, letters: readonly DeadLetter[]): Promise<void> {
    return this.lifecycle.run(`could not write dead letters to ${topic}`, async ({ deadLetters }) => {
      await Promise.all(deadLetterRecords(topic, group, letters).map((record) => deadLetters!.producer.send(record)));
    });
  }

  private readDeadLetters(topic: string, group: string): Promise<DeadLetter[]> {
    return this.lifecycle.run(`could not read the dead-letter topic ${topic}`, async ({ deadLetters }) =>
      deadLettersOf(await deadLetters!.topics.readAll(topic, this.requestTimeoutMs), group),
    );
  }

  /** The stream's binding, which serves its own group only. */
  private bindingOf(binding: KafkaGroupBinding, group: string): KafkaGroupBinding {
    if (group !== binding.groupId) {
      throw new OffsetStoreError(
        this.name,
        `is bound to group ${binding.groupId} by its Kafka direct stream and cannot serve group ${group}. ` +
          'Use a separate KafkaOffsetStore for each group',
      );
    }
    return binding;
  }

  /** The standalone consumer of `group`, connected on first use. */
  private client(group: string): Promise<GroupOffsetsClient> {
    const mode = this.lifecycle.connection;
    if (mode.kind !== 'standalone') throw new OffsetStoreError(STORE, 'is bound to its stream and has no consumer of its own');
    let client = mode.clients.get(group);
    if (client === undefined) {
      client = connectGroupOffsetsClient(mode.brokers, group, this.kafkaParams, this.requestTimeoutMs);
      // A failed connection is not kept: the next call tries again.
      client.catch(() => mode.clients.delete(group));
      mode.clients.set(group, client);
    }
    return client;
  }
}
