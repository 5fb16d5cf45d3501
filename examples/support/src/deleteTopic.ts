import { deleteTopic as deleteTopicOn } from '@dstream/test-utils';

/**
 * Deletes `topic`, so a run that made its own topic leaves nothing behind. A topic that is already
 * gone is fine. Failures arrive as `KafkaError`.
 *
 * @example
 * await deleteTopic(brokersFromEnv(), 'dstream-wordcount-mx5gz6od');
 */
export function deleteTopic(brokers: string, topic: string): Promise<void> {
  return deleteTopicOn(topic, { brokers });
}
