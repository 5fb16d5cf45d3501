import { toKafkaError } from '@dstream/core';
import * as Kafka from 'node-rdkafka';

/**
 * Every record value of the topic's partition 0 up to its end, read as any downstream consumer of
 * a transactional topic must: with `isolation.level=read_committed`.
 *
 * @example
 * const values = await readCommitted('127.0.0.1:9092', 'WORDS');
 */
export async function readCommitted(brokers: string, topic: string): Promise<string[]> {
  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': brokers,
      'group.id': `${topic}-reader`,
      'enable.auto.commit': false,
      'enable.partition.eof': true,
      'isolation.level': 'read_committed',
    },
    {},
  );
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ timeout: 10_000 }, (error) => (error ? reject(toKafkaError(error, `connect to ${brokers}`)) : resolve())),
  );
  try {
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    consumer.setDefaultConsumeTimeout(200);
    let isAtEnd = false;
    consumer.on('partition.eof', () => (isAtEnd = true));
    const values: string[] = [];
    while (!isAtEnd) {
      const messages = await new Promise<Kafka.Message[]>((resolve, reject) =>
        consumer.consume(1000, (error, batch) => (error ? reject(toKafkaError(error, `read ${topic}`)) : resolve(batch))),
      );
      for (const message of messages) values.push(String(message.value));
    }
    return values;
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}
