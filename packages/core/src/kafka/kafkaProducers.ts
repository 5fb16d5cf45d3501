/**
 * The producers over node-rdkafka that @dstream/offsets-kafka takes from core: the transactional
 * producer of its exactly-once sink and the idempotent `RecordProducer` its offset store writes
 * dead letters with. Both share one core that sends acknowledged records in order, whatever the
 * client's queue holds.
 */
import * as Kafka from 'node-rdkafka';
import { AuthenticationError, KafkaError } from '../errors';
import type { KafkaParams, OutputRecord, RecordProducer, TransactionalProducer } from './kafkaCapabilities';
import { callback, connectClient } from './kafkaClientCalls';
import { toKafkaError } from './kafkaErrors';
import { consumerOf } from './RdKafkaConsumerClient';

/** librdkafka's "queue full": the client holds `queue.buffering.max.messages` records already. */
const ERR_QUEUE_FULL = -184;
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
    sendOffsetsToTransaction(offsets, group, timeoutMs) {
      let consumer: Kafka.KafkaConsumer;
      try {
        consumer = consumerOf(group);
      } catch (error) {
        return Promise.reject(error);
      }
      return callback<void>('send offsets to the transaction', (done) =>
        producer.sendOffsetsToTransaction(
          offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
          consumer,
          timeoutMs,
          done,
        ),
      );
    },
    commitTransaction: (timeoutMs) =>
      callback<void>('commit the transaction', (done) => producer.commitTransaction(timeoutMs, done)),
    abortTransaction(timeoutMs) {
      core.dropQueued('the transaction was aborted before this record was sent');
      return callback<void>('abort the transaction', (done) => producer.abortTransaction(timeoutMs, done));
    },
    disconnect: () => core.disconnect(),
  };
}

/** Creates an idempotent `RecordProducer` over librdkafka; `config` must hold `bootstrap.servers`. */
export function createRecordProducer(config: KafkaParams): RecordProducer {
  const core = openProducer({ ...config, 'enable.idempotence': true });
  return { connect: (timeoutMs) => core.connect(timeoutMs), send: (record) => core.send(record), disconnect: () => core.disconnect() };
}

