// Topic admin for tests, examples and benchmarks: one implementation on librdkafka's admin API.
import { ConfigError, toKafkaError } from '@dstream/core';
import * as Kafka from 'node-rdkafka';
import { services } from './services';
import { waitFor } from './waitFor';

/** Client settings added to the admin or producer a helper opens (e.g. SASL credentials). */
export type ClientConfig = Record<string, string | number | boolean>;

/** Where and how {@link createTopic} creates a topic. */
export interface CreateTopicOptions {
  /** Bootstrap servers; `services.kafkaBrokers` unless set. */
  readonly brokers?: string;
  /** How long the brokers get. Default 15 s. */
  readonly timeoutMs?: number;
  /** Extra admin client settings, e.g. SASL credentials and another listener. */
  readonly config?: ClientConfig;
  /** Leaves a topic that exists as it is instead of failing: for jobs that reuse their topic across runs. */
  readonly ifMissing?: boolean;
}

/** Runs one admin request on a fresh admin client and disconnects it; failures arrive as `KafkaError`. */
async function withAdmin(
  brokers: string,
  operation: string,
  config: ClientConfig,
  request: (admin: Kafka.IAdminClient, done: (error?: Kafka.LibrdKafkaError) => void) => void,
): Promise<void> {
  let admin: Kafka.IAdminClient;
  try {
    admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers, 'client.id': 'dstream-tests', ...config });
  } catch (error) {
    throw toKafkaError(error, operation);
  }
  try {
    await new Promise<void>((resolve, reject) => request(admin, (error) => (error ? reject(toKafkaError(error, operation)) : resolve())));
  } finally {
    admin.disconnect();
  }
}

/**
 * Creates `topic` with `partitions` partitions and replication factor 1 (a one-broker development
 * cluster). Failures, including an existing topic unless `ifMissing`, arrive as `KafkaError`.
 *
 * @example
 * await createTopic(uniqueName('orders'), 3);
 * await createTopic('sentences', 3, { brokers: '127.0.0.1:9092', ifMissing: true });
 */
export async function createTopic(topic: string, partitions: number, options: CreateTopicOptions = {}): Promise<void> {
  if (typeof topic !== 'string' || topic === '') {
    throw new ConfigError('topic', topic, 'must be a non-empty string', 'Pass the topic name.');
  }
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new ConfigError('partitions', partitions, 'must be a positive integer', 'Pass e.g. 3.');
  }
  const brokers = options.brokers ?? services.kafkaBrokers;
  await withAdmin(brokers, `create topic ${topic} at ${brokers}`, options.config ?? {}, (admin, done) =>
    admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, options.timeoutMs ?? 15_000, (error) =>
      done(options.ifMissing && error?.code === Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS ? undefined : error),
    ),
  );
}

/**
 * Deletes `topic`, so a run that made its own topic leaves nothing behind. A topic that is
 * already gone is fine. Failures arrive as `KafkaError`.
 *
 * @example
 * await deleteTopic(topic, { brokers });
 */
export async function deleteTopic(topic: string, options: { readonly brokers?: string; readonly timeoutMs?: number } = {}): Promise<void> {
  const brokers = options.brokers ?? services.kafkaBrokers;
  await withAdmin(brokers, `delete topic ${topic} at ${brokers}`, {}, (admin, done) =>
    admin.deleteTopic(topic, options.timeoutMs ?? 15_000, (error) =>
      done(error?.code === Kafka.CODES.ERRORS.ERR_UNKNOWN_TOPIC_OR_PART ? undefined : error),
    ),
  );
}

/** Raises a topic's partition count. */
export async function addPartitions(topic: string, totalPartitions: number, options: { readonly brokers?: string } = {}): Promise<void> {
  const brokers = options.brokers ?? services.kafkaBrokers;
  await withAdmin(brokers, `add partitions to ${topic}`, {}, (admin, done) => admin.createPartitions(topic, totalPartitions, 15_000, done));
}

/** Creates the topic unless it exists, then waits until the broker's metadata lists its partitions. */
export async function ensureTopic(topic: string, partitions: number): Promise<void> {
  await createTopic(topic, partitions, { timeoutMs: 30_000, ifMissing: true });
  await waitForPartitions(topic, partitions);
}

/** Waits until the broker's metadata shows at least `partitions` partitions of `topic` (the group coordinator rejects commits before). */
export async function waitForPartitions(topic: string, partitions: number): Promise<void> {
  const producer = new Kafka.Producer({ 'bootstrap.servers': services.kafkaBrokers });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (error) => (error ? reject(error) : resolve())));
  try {
    await waitFor(
      () =>
        new Promise<boolean>((resolve) =>
          producer.getMetadata({ topic, timeout: 5000 }, (error, metadata) =>
            resolve(!error && (metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0) >= partitions),
          ),
        ),
      30_000,
      `metadata of ${topic} with ${partitions} partitions`,
      200,
    );
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}
