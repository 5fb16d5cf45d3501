/**
 * Kafka plumbing of the throughput benchmark, straight on node-rdkafka: topic admin, a batching
 * producer of word sentences.
 * Every librdkafka error is rethrown as an `Error` naming the operation and the librdkafka code.
 */
import * as Kafka from 'node-rdkafka';
import { elapsedMs } from './stats';
import { countWords, sentenceSource } from './words';

/** What one produce run sent. */
export interface ProduceResult {
  /** Word totals of every value sent: the answer every consumer must reproduce. */
  readonly totals: Map<string, number>;
  readonly bytes: number;
  /** From the first `produce` call to the last delivery report. */
  readonly ms: number;
}

/** Turns a librdkafka error (thrown or passed to a callback) into an Error saying what was attempted. */
export function kafkaFailure(operation: string, error: unknown): Error {
  const { message, code } = (error ?? {}) as { message?: string; code?: number };
  return new Error(`${operation}: ${message ?? String(error)}${code === undefined ? '' : ` (librdkafka code ${code})`}`, {
    cause: error,
  });
}

function adminCall(brokers: string, operation: string, call: (admin: Kafka.IAdminClient, done: (error?: unknown) => void) => void) {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers, 'client.id': 'dstream-bench' });
  return new Promise<void>((resolve, reject) =>
    call(admin, (error) => (error ? reject(kafkaFailure(operation, error)) : resolve())),
  ).finally(() => admin.disconnect());
}

/** Creates a topic with replication factor 1. */
export function createTopic(brokers: string, topic: string, partitions: number): Promise<void> {
  return adminCall(brokers, `create topic ${topic} at ${brokers}`, (admin, done) =>
    admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 15_000, done),
  );
}

/** Deletes a topic, so repeated runs don't fill the broker's disk. */
export function deleteTopic(brokers: string, topic: string): Promise<void> {
  return adminCall(brokers, `delete topic ${topic}`, (admin, done) => admin.deleteTopic(topic, 15_000, done));
}

/**
 * Produces `count` keyed sentences of about `bytes` bytes with a batching producer and waits for
 * every delivery report. A full local queue (QUEUE_FULL) waits for deliveries instead of failing.
 */
export async function produceSentences(brokers: string, topic: string, count: number, bytes: number): Promise<ProduceResult> {
  const producer = new Kafka.Producer(
    {
      'bootstrap.servers': brokers,
      'client.id': 'dstream-bench-producer',
      'linger.ms': 20,
      'batch.num.messages': 10_000,
      'batch.size': 1_000_000,
      'queue.buffering.max.messages': 1_000_000,
      'queue.buffering.max.kbytes': 1_048_576,
      dr_cb: true,
    },
    {},
  );
  const next = sentenceSource(bytes);
  const totals = new Map<string, number>();
  let delivered = 0;
  let failure: Error | undefined;
  let onProgress: (() => void) | undefined;
  producer.on('delivery-report', (error) => {
    if (error) failure ??= kafkaFailure(`deliver a record to ${topic}`, error);
    delivered += 1;
    if (delivered === count || failure) onProgress?.();
  });
  await new Promise<void>((resolve, reject) =>
    producer.connect({ timeout: 10_000 }, (error) => (error ? reject(kafkaFailure(`connect a producer to ${brokers}`, error)) : resolve())),
  );
  producer.setPollInterval(10);
  try {
    let sentBytes = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; ) {
      const sentence = next();
      const value = Buffer.from(sentence);
      try {
        producer.produce(topic, null, value, `key-${i}`);
      } catch (error) {
        if ((error as { code?: number }).code !== Kafka.CODES.ERRORS.ERR__QUEUE_FULL) throw kafkaFailure(`produce to ${topic}`, error);
        // The local queue is full: give the delivery reports a moment to drain it, then retry this record.
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      countWords(sentence, totals);
      sentBytes += value.length;
      i += 1;
    }
    await new Promise<void>((resolve) => {
      onProgress = resolve;
      if (delivered === count || failure) resolve();
    });
    if (failure) throw failure;
    return { totals, bytes: sentBytes, ms: elapsedMs(started) };
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}
