/**
 * Kafka plumbing of the throughput benchmark, straight on node-rdkafka: a batching producer of
 * word sentences (topics come from `@dstream/test-utils`).
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
