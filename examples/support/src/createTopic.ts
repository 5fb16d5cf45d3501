import { createTopic as createTopicOn } from '@dstream/test-utils';

/**
 * Creates `topic` with `partitions` partitions (replication factor 1, as on a one-broker
 * development cluster). A topic that already exists is left as it is, so a job that reuses its
 * topic across runs can call this every time. Failures arrive as `KafkaError`.
 *
 * @example
 * await createTopic(brokersFromEnv(), 'sentences', 3);
 */
export function createTopic(brokers: string, topic: string, partitions: number): Promise<void> {
  return createTopicOn(topic, partitions, { brokers, ifMissing: true });
}
