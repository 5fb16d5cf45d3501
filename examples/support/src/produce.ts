import { ConfigError, KafkaError, toKafkaError } from '@dstream/core';
import * as Kafka from 'node-rdkafka';

/** One record for `produce`. */
export interface ExampleRecord {
  /** Records with one key go to one partition, in order; null lets the partitioner spread them. */
  readonly key: string | Buffer | null;
  readonly value: string | Buffer;
  /** Sends this record to another topic than the one `produce` was given (e.g. a click beside its impression). */
  readonly topic?: string;
  /** Sends this record to this partition instead of the key's. */
  readonly partition?: number;
}

/** Options of `produce`. */
export interface ProduceOptions {
  /** Records per second, all topics together; omitted: as fast as the brokers take them. */
  readonly ratePerSecond?: number;
}

/**
 * Records sent and not yet acknowledged before `produce` stops reading its input: keeps memory
 * flat for an endless input, far below librdkafka's local queue (100,000 messages by default).
 */
const MAX_IN_FLIGHT = 10_000;
/** A record the brokers have not acknowledged in this time fails (librdkafka's default is 5 minutes). */
const MESSAGE_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Sends `records` to `topic` with an idempotent producer, at about `ratePerSecond` if given, and
 * resolves with the number sent once the brokers acknowledged every one of them (each delivery
 * report arrived). `records` is read lazily, so a generator can describe an endless input; at
 * most 10,000 records are unacknowledged at a time. The first failed delivery stops the sending
 * and rejects with a `KafkaError` once the records in flight are settled.
 *
 * @example
 * const sentences = function* () { for (let i = 0; i < 1000; i++) yield { key: `s${i}`, value: sentence(i) }; };
 * await produce(brokersFromEnv(), 'sentences', sentences(), { ratePerSecond: 500 });
 */
export async function produce(
  brokers: string,
  topic: string,
  records: Iterable<ExampleRecord>,
  options: ProduceOptions = {},
): Promise<number> {
  const { ratePerSecond } = options;
  if (ratePerSecond !== undefined && !(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) {
    throw new ConfigError('ratePerSecond', ratePerSecond, 'must be a positive number of records per second', 'Pass e.g. 1000, or omit it.');
  }
  const producer = new Kafka.Producer(
    { 'bootstrap.servers': brokers, 'enable.idempotence': true, 'linger.ms': 5, dr_cb: true },
    { 'message.timeout.ms': MESSAGE_TIMEOUT_MS },
  );
  let inFlight = 0;
  let delivered = 0;
  let failure: KafkaError | undefined;
  let onSettled: (() => void) | undefined;
  const settled = () => new Promise<void>((resolve) => (onSettled = resolve));
  producer.on('delivery-report', (error, report) => {
    inFlight -= 1;
    if (error) failure ??= toKafkaError(error, `deliver a record to ${report.topic}-${report.partition}`);
    else delivered += 1;
    const wake = onSettled;
    onSettled = undefined;
    wake?.();
  });
  // Other client errors (a broker connection dropping) are retried by librdkafka; only a fatal
  // one (the idempotent producer's state is lost) ends the sending.
  producer.on('event.error', (error) => {
    if (error.isFatal) failure ??= toKafkaError(error, `produce to ${topic}`);
  });
  await new Promise<void>((resolve, reject) =>
    producer.connect({ timeout: CONNECT_TIMEOUT_MS }, (error) =>
      error ? reject(toKafkaError(error, `connect a producer to ${brokers}`)) : resolve(),
    ),
  );
  // Delivery reports are dispatched only while the producer is polled.
  producer.setPollInterval(10);
  try {
    const started = Date.now();
    let sent = 0;
    for (const record of records) {
      if (ratePerSecond !== undefined) {
        const wait = started + (sent * 1000) / ratePerSecond - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      while (inFlight >= MAX_IN_FLIGHT && failure === undefined) await settled();
      if (failure !== undefined) break;
      const to = record.topic ?? topic;
      try {
        producer.produce(to, record.partition ?? null, Buffer.from(record.value), record.key ?? undefined, Date.now());
      } catch (error) {
        throw toKafkaError(error, `produce to ${to}`);
      }
      inFlight += 1;
      sent += 1;
    }
    while (inFlight > 0) await settled();
    if (failure !== undefined) throw failure;
    return delivered;
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}
