/**
 * The one module of this package that talks to node-rdkafka: a consumer that reads and commits a
 * group's offsets without joining the group, and a transactional producer. Every library error
 * arrives as core's `KafkaError` (through `toKafkaError`, as in the direct stream), so moving to
 * `@confluentinc/kafka-javascript` touches this file only.
 */
import * as Kafka from 'node-rdkafka';
import { AuthenticationError, ConfigError, KafkaError, kafkaAuthenticationError, kafkaAuthenticationFailure, toKafkaError } from '@dstream/core';
import type { TopicPartition, TopicPartitionOffset } from '@dstream/core';

/** librdkafka settings as the client takes them. */
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
  /** Adds the group's offsets to the open transaction, fenced by the consumer's group generation. */
  sendOffsetsToTransaction(offsets: readonly TopicPartitionOffset[], consumer: unknown, timeoutMs: number): Promise<void>;
  commitTransaction(timeoutMs: number): Promise<void>;
  /** Aborts the open transaction; records not yet handed to the client are dropped and their sends rejected. */
  abortTransaction(timeoutMs: number): Promise<void>;
  /** Closes connections. Idempotent. */
  disconnect(): Promise<void>;
}

/** Creates a `TransactionalProducer`; replaced by a fake in unit tests. */
export type TransactionalProducerFactory = (config: KafkaParams) => TransactionalProducer;

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

/** librdkafka's RD_KAFKA_OFFSET_BEGINNING: the partition's first offset, whatever compaction left. */
const OFFSET_BEGINNING = -2;
/** librdkafka's TOPIC_ALREADY_EXISTS. */
const ERR_TOPIC_ALREADY_EXISTS = 36;

/**
 * A `StateTopicClient` over librdkafka: an admin client to create the topic, and for each read a
 * consumer that never joins a group, assigned partition 0 from its beginning with
 * `isolation.level=read_committed` (aborted state writes are skipped), read until librdkafka reports
 * the partition's end.
 */
export function createStateTopicClient(params: KafkaParams): StateTopicClient {
  const brokers = String(params['bootstrap.servers']);
  return {
    async ensureTopic(topic, timeoutMs) {
      const admin = Kafka.AdminClient.create({ ...params } as Kafka.GlobalConfig);
      try {
        await callback<void>(`create state topic ${topic}`, (done) =>
          admin.createTopic(
            { topic, num_partitions: 1, replication_factor: -1, config: { 'cleanup.policy': 'compact' } },
            timeoutMs,
            (error) => done(error && (error as { code?: number }).code === ERR_TOPIC_ALREADY_EXISTS ? undefined : error),
          ),
        );
      } finally {
        admin.disconnect();
      }
    },
    async readAll(topic, timeoutMs) {
      const consumer = new Kafka.KafkaConsumer(
        {
          ...params,
          'group.id': `dstream-state-reader-${topic}`,
          'enable.auto.commit': false,
          'enable.partition.eof': true,
          'isolation.level': 'read_committed',
          // The read ends at the partition's end: don't let the broker hold each empty fetch 500 ms.
          'fetch.wait.max.ms': 50,
        },
        {},
      );
      await connectClient(consumer, brokers, timeoutMs, params);
      try {
        let isAtEnd = false;
        consumer.on('partition.eof', () => void (isAtEnd = true));
        consumer.assign([{ topic, partition: 0, offset: OFFSET_BEGINNING }]);
        consumer.setDefaultConsumeTimeout(100);
        const records: StateTopicRecord[] = [];
        const deadline = Date.now() + timeoutMs;
        while (!isAtEnd) {
          if (Date.now() > deadline) {
            throw new KafkaError(`could not read state topic ${topic} to its end within ${timeoutMs} ms`, { retriable: true });
          }
          const messages = await callback<Kafka.Message[]>(`read state topic ${topic}`, (done) => consumer.consume(1000, done));
          for (const message of messages) {
            records.push({ key: String(message.key ?? ''), value: message.value === null ? null : message.value.toString('utf8') });
          }
        }
        return records;
      } finally {
        await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
      }
    },
  };
}

/** librdkafka's "queue full": the client holds `queue.buffering.max.messages` records already. */
const ERR_QUEUE_FULL = -184;

/** Adapts a node-style callback API to a promise that rejects with a `KafkaError`. */
function callback<T>(operation: string, start: (done: (error: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((error, value) => (error ? reject(toKafkaError(error, operation)) : resolve(value as T)));
    } catch (error) {
      reject(toKafkaError(error, operation));
    }
  });
}

/**
 * Connects a client, rejecting with a retriable `KafkaError` that names the brokers, or at once
 * with an `AuthenticationError` when librdkafka reports that the brokers refused the client
 * (credentials, SASL mechanism, TLS handshake; see core's `kafkaAuthenticationFailure`).
 */
async function connectClient(
  client: Kafka.Client<string>,
  brokers: string,
  timeoutMs: number,
  config: KafkaParams,
): Promise<void> {
  let onRefused: ((reason: string, cause: unknown) => void) | undefined;
  const refused = new Promise<never>((_, reject) => {
    onRefused = (reason, cause) => reject(kafkaAuthenticationError(brokers, config, reason, cause));
  });
  const onEvent = (event: unknown) => {
    const reason = kafkaAuthenticationFailure(event);
    if (reason !== undefined) onRefused?.(reason, event instanceof Error ? event : undefined);
  };
  client.on('event.log', onEvent);
  client.on('event.error', onEvent);
  const connected = callback<void>(`connect to Kafka at ${brokers}`, (done) =>
    client.connect({ timeout: timeoutMs }, (error) => done(error)),
  );
  connected.catch(() => undefined);
  try {
    await Promise.race([connected, refused]);
  } catch (error) {
    // The refused attempt ends on its own when its metadata request times out (see core's KafkaClient).
    if (error instanceof AuthenticationError) throw error;
    throw new KafkaError(
      `could not reach Kafka at ${brokers} within ${timeoutMs} ms: ${(error as Error).message}. ` +
        'Check the brokers option and that the brokers are up',
      { retriable: true, cause: error, code: (error as KafkaError).code },
    );
  } finally {
    onRefused = undefined;
    client.off('event.log', onEvent);
    client.off('event.error', onEvent);
  }
}

/** Connects a consumer of `groupId` that only reads and commits offsets. */
export async function connectGroupOffsetsClient(
  brokers: string,
  groupId: string,
  params: KafkaParams,
  timeoutMs: number,
): Promise<GroupOffsetsClient> {
  const consumer = new Kafka.KafkaConsumer(
    { ...params, 'bootstrap.servers': brokers, 'group.id': groupId, 'enable.auto.commit': false },
    {},
  );
  await connectClient(consumer, brokers, timeoutMs, params);
  let disconnecting: Promise<void> | undefined;
  return {
    committed: (partitions, committedTimeoutMs) =>
      callback<Kafka.TopicPartitionOffset[]>(`read committed offsets of group ${groupId}`, (done) =>
        consumer.committed(
          partitions.map(({ topic, partition }) => ({ topic, partition })),
          committedTimeoutMs,
          done,
        ),
      ).then((offsets) => offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset: offset ?? -1 }))),
    commit(offsets) {
      // The asynchronous commit's answer is only served from inside consume(), which this
      // consumer never calls; the synchronous one returns the coordinator's answer directly.
      try {
        consumer.commitSync(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
      } catch (error) {
        throw toKafkaError(error, `commit offsets of group ${groupId}`);
      }
    },
    disconnect() {
      disconnecting ??= new Promise<void>((resolve) => {
        if (!consumer.isConnected()) resolve();
        else consumer.disconnect(() => resolve());
      });
      return disconnecting;
    },
  };
}

/** The node-rdkafka consumer a stream lends through its binding, checked before a transaction uses it. */
function asConsumer(consumer: unknown): Kafka.KafkaConsumer {
  if (typeof (consumer as { getClient?: unknown } | null)?.getClient !== 'function') {
    throw new ConfigError(
      'binding.kafka.consumer',
      consumer,
      'must be a node-rdkafka KafkaConsumer',
      'Connect the sink through KafkaUtils.createDirectStream, which lends its consumer.',
    );
  }
  return consumer as Kafka.KafkaConsumer;
}

/** A record waiting for room in the client's queue, with the id of its pending acknowledgement. */
interface Queued {
  readonly record: OutputRecord;
  readonly id: number;
}

/** The parts of a librdkafka producer both producers here share: acknowledged sends, in order, whatever the queue holds. */
interface ProducerCore {
  readonly producer: Kafka.Producer;
  /** Connects once and starts polling for delivery reports. */
  connect(timeoutMs: number): Promise<void>;
  /** Produces one record; resolves when the broker acknowledged it. */
  send(record: OutputRecord): Promise<void>;
  /** Drops the records still waiting for room in the client's queue, rejecting their sends. */
  dropQueued(reason: string): void;
  disconnect(): Promise<void>;
}

function openProducer(config: KafkaParams): ProducerCore {
  const brokers = String(config['bootstrap.servers']);
  const producer = new Kafka.Producer({ ...config, dr_cb: true } as Kafka.ProducerGlobalConfig);
  const acks = new Map<number, { resolve: () => void; reject: (error: KafkaError) => void }>();
  // Records that met a full client queue wait here, in order, until delivery reports free room:
  // producing them later than records sent after them would reorder a partition.
  const backlog: Queued[] = [];
  let nextId = 0;
  let isConnected = false;
  let disconnecting: Promise<void> | undefined;

  const settle = (id: number, error?: KafkaError) => {
    const ack = acks.get(id);
    acks.delete(id);
    if (error) ack?.reject(error);
    else ack?.resolve();
  };
  /** Hands the record to the client; false when its queue is full. */
  const produce = ({ record, id }: Queued): boolean => {
    try {
      producer.produce(
        record.topic,
        record.partition ?? null,
        record.value === null ? null : Buffer.from(record.value),
        record.key ?? undefined,
        Date.now(),
        id,
        record.headers ? record.headers.map((header) => ({ ...header })) : undefined,
      );
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === ERR_QUEUE_FULL) return false;
      settle(id, toKafkaError(error, `produce to ${record.topic}`));
      return true;
    }
  };
  const drain = () => {
    while (backlog.length > 0 && produce(backlog[0])) backlog.shift();
  };
  producer.on('delivery-report', (error, report) => {
    settle(report.opaque as number, error ? toKafkaError(error, `produce to ${report.topic}`) : undefined);
    drain();
  });

  return {
    producer,
    async connect(timeoutMs) {
      if (isConnected) return;
      await connectClient(producer, brokers, timeoutMs, config).catch((error: unknown) => {
        // A refused attempt ends on its own; disconnecting would wait for its metadata timeout.
        if (error instanceof AuthenticationError) disconnecting = Promise.resolve();
        throw error;
      });
      isConnected = true;
      // Delivery reports are dispatched only while the producer is polled.
      producer.setPollInterval(10);
    },
    send(record) {
      const id = nextId++;
      const ack = new Promise<void>((resolve, reject) => acks.set(id, { resolve, reject }));
      if (backlog.length > 0 || !produce({ record, id })) backlog.push({ record, id });
      return ack;
    },
    dropQueued(reason) {
      for (const { id } of backlog.splice(0)) settle(id, new KafkaError(reason));
    },
    disconnect() {
      disconnecting ??= new Promise<void>((resolve) => {
        producer.setPollInterval(0);
        if (!producer.isConnected()) resolve();
        else producer.disconnect(() => resolve());
      });
      return disconnecting;
    },
  };
}

/** Creates a transactional producer over librdkafka; `config` must hold `bootstrap.servers` and `transactional.id`. */
export function createTransactionalProducer(config: KafkaParams): TransactionalProducer {
  const core = openProducer(config);
  const { producer } = core;
  return {
    async initTransactions(timeoutMs) {
      await core.connect(timeoutMs);
      await callback<void>(`initialize transactions for transactional.id ${config['transactional.id']}`, (done) =>
        producer.initTransactions(timeoutMs, done),
      );
    },
    beginTransaction: () => callback<void>('begin a transaction', (done) => producer.beginTransaction(done)),
    send: (record) => core.send(record),
    sendOffsetsToTransaction: (offsets, consumer, timeoutMs) =>
      callback<void>('send offsets to the transaction', (done) =>
        producer.sendOffsetsToTransaction(
          offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
          asConsumer(consumer),
          timeoutMs,
          done,
        ),
      ),
    commitTransaction: (timeoutMs) =>
      callback<void>('commit the transaction', (done) => producer.commitTransaction(timeoutMs, done)),
    abortTransaction(timeoutMs) {
      core.dropQueued('the transaction was aborted before this record was sent');
      return callback<void>('abort the transaction', (done) => producer.abortTransaction(timeoutMs, done));
    },
    disconnect: () => core.disconnect(),
  };
}

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

/** Creates an idempotent `RecordProducer` over librdkafka; `config` must hold `bootstrap.servers`. */
export function createRecordProducer(config: KafkaParams): RecordProducer {
  const core = openProducer({ ...config, 'enable.idempotence': true });
  return { connect: (timeoutMs) => core.connect(timeoutMs), send: (record) => core.send(record), disconnect: () => core.disconnect() };
}
