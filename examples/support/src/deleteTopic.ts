import { toKafkaError } from '@dstream/core';
import * as Kafka from 'node-rdkafka';

/** How long the brokers get to delete a topic. */
const DELETE_TIMEOUT_MS = 15_000;

/**
 * Deletes `topic`, so a run that made its own topic leaves nothing behind. A topic that is already
 * gone is fine. Failures arrive as `KafkaError`.
 *
 * @example
 * await deleteTopic(brokersFromEnv(), 'dstream-wordcount-mx5gz6od');
 */
export async function deleteTopic(brokers: string, topic: string): Promise<void> {
  const operation = `delete topic ${topic} at ${brokers}`;
  let admin: Kafka.IAdminClient;
  try {
    admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers });
  } catch (error) {
    throw toKafkaError(error, operation);
  }
  try {
    await new Promise<void>((resolve, reject) =>
      admin.deleteTopic(topic, DELETE_TIMEOUT_MS, (error) => {
        if (error && error.code !== Kafka.CODES.ERRORS.ERR_UNKNOWN_TOPIC_OR_PART) reject(toKafkaError(error, operation));
        else resolve();
      }),
    );
  } finally {
    admin.disconnect();
  }
}
