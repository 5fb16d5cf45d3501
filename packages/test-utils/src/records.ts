// Writing records to a topic and reading them back, for tests on the real broker.
import * as Kafka from 'node-rdkafka';
import { services } from './services';
import { waitFor } from './waitFor';

/** Sends `count` records to each listed partition, with values `<partition>:<n>` (n from `startAt`), and waits for every ack. */
export async function produce(
  topic: string,
  partitions: readonly number[],
  count: number,
  startAt = 0,
  config: Record<string, string | number | boolean> = {},
): Promise<void> {
  const producer = new Kafka.Producer({ 'bootstrap.servers': services.kafkaBrokers, dr_cb: true, 'linger.ms': 5, ...config });
  let acknowledged = 0;
  let failure: Error | undefined;
  producer.on('delivery-report', (error) => {
    if (error) failure ??= new Error(`producing to ${topic} failed: ${error.message}`);
    acknowledged += 1;
  });
  await new Promise<void>((resolve, reject) =>
    producer.connect({ timeout: 10_000 }, (error) => (error ? reject(new Error(`connecting a producer failed: ${error.message}`)) : resolve())),
  );
  producer.setPollInterval(10);
  try {
    for (const partition of partitions) {
      for (let i = 0; i < count; i++) producer.produce(topic, partition, Buffer.from(`${partition}:${startAt + i}`));
    }
    const expected = partitions.length * count;
    await waitFor(() => acknowledged === expected || failure !== undefined, 30_000, `acks for ${expected} records to ${topic}`);
    if (failure) throw failure;
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}

/** Every record value of the topic's partitions up to their end, read with the given isolation level. */
export async function readTopic(
  topic: string,
  partitions: number,
  isolation: 'read_committed' | 'read_uncommitted' = 'read_committed',
): Promise<string[]> {
  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': services.kafkaBrokers,
      'group.id': `reader-${topic}`,
      'enable.auto.commit': false,
      'enable.partition.eof': true,
      'isolation.level': isolation,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (error) => (error ? reject(error) : resolve())));
  try {
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
    const values: string[] = [];
    const atEnd = new Set<number>();
    consumer.on('partition.eof', ({ partition }) => atEnd.add(partition));
    consumer.setDefaultConsumeTimeout(200);
    const deadline = Date.now() + 60_000;
    while (atEnd.size < partitions) {
      if (Date.now() > deadline) throw new Error(`timed out reading ${topic} to its end`);
      const messages = await new Promise<Kafka.Message[]>((resolve, reject) =>
        consumer.consume(1000, (error, batch) => (error ? reject(error) : resolve(batch))),
      );
      for (const message of messages) values.push(String(message.value));
    }
    return values;
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}
