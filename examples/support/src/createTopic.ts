import { ConfigError, toKafkaError } from '@dstream/core';
import * as Kafka from 'node-rdkafka';

/** How long the brokers get to create a topic. */
const CREATE_TIMEOUT_MS = 15_000;

/**
 * Creates `topic` with `partitions` partitions (replication factor 1, as on a one-broker
 * development cluster). A topic that already exists is left as it is, so a job that reuses its
 * topic across runs can call this every time. Failures arrive as `KafkaError`.
 *
 * @example
 * await createTopic(brokersFromEnv(), 'sentences', 3);
 */
export async function createTopic(brokers: string, topic: string, partitions: number): Promise<void> {
  if (typeof topic !== 'string' || topic === '') {
    throw new ConfigError('topic', topic, 'must be a non-empty string', 'Pass the topic name.');
  }
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new ConfigError('partitions', partitions, 'must be a positive integer', 'Pass e.g. 3.');
  }
  const operation = `create topic ${topic} at ${brokers}`;
  let admin: Kafka.IAdminClient;
  try {
    admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers });
  } catch (error) {
    throw toKafkaError(error, operation);
  }
  try {
    await new Promise<void>((resolve, reject) =>
      admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, CREATE_TIMEOUT_MS, (error) => {
        if (error && error.code !== Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS) reject(toKafkaError(error, operation));
        else resolve();
      }),
    );
  } finally {
    admin.disconnect();
  }
}
