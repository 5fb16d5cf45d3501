// Broker-side helpers of this package's integration tests, on top of core's (services, topics, waitFor).
import { execFile } from 'node:child_process';
import path from 'node:path';
import * as Kafka from 'node-rdkafka';
import { createTopic, services, waitFor } from '../../../core/test/integration/helpers/services';

const ROOT = path.resolve(__dirname, '../../../..');

/** Creates the topic unless it exists, then waits until the broker's metadata lists its partitions. */
export async function ensureTopic(topic: string, partitions: number): Promise<void> {
  try {
    await createTopic(topic, partitions, 30_000);
  } catch (error) {
    if (!/already exists/i.test((error as Error).message)) throw error;
  }
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

/** Runs `scripts/kafka-consumer-groups --describe --group <group>` and parses its table: lag per `topic:partition`. */
export async function describeGroup(group: string): Promise<Map<string, { offset: number | null; lag: number | null }>> {
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      path.join(ROOT, 'scripts/kafka-consumer-groups'),
      ['--bootstrap-server', services.kafkaBrokers, '--describe', '--group', group],
      { timeout: 90_000 },
      (error, out, err) => (error ? reject(new Error(`kafka-consumer-groups failed: ${err || error.message}`)) : resolve(out)),
    ),
  );
  const rows = new Map<string, { offset: number | null; lag: number | null }>();
  const number = (text: string) => (text === '-' ? null : Number(text));
  for (const line of stdout.split('\n')) {
    const columns = line.trim().split(/\s+/);
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
    if (columns[0] !== group || columns.length < 6) continue;
    rows.set(`${columns[1]}:${columns[2]}`, { offset: number(columns[3]), lag: number(columns[5]) });
  }
  return rows;
}
