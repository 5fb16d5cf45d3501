import type { KafkaGroupBinding, OffsetStore } from '@dstream/core';
import { describeOffsetStoreContract } from '@dstream/core/testing';
import { KafkaTransactionalSink, type KafkaTransaction } from '@dstream/offsets-kafka';
import { createKafkaConsumer } from '@dstream/core/internal';
import { ensureTopic, readTopic, requireService, services, uniqueName } from '@dstream/test-utils';

// The sink runs the OffsetStore contract as a Kafka direct stream uses it: bound to one group
// through a consumer of that group (here one that never subscribes, as with Assign strategies).
// The coordinator rejects offsets of topics the cluster does not have: the suite's topics must exist.
const run = uniqueName('sink-contract');
const written = `${run}-written`;
const stateTopic = `${run}-state`;
let instances = 0;

beforeAll(async () => {
  await requireService('Kafka', services.kafkaBrokers);
  await Promise.all([ensureTopic('orders', 2), ensureTopic('payments', 4), ensureTopic('payments.v2', 1), ensureTopic(written, 1)]);
}, 120_000);

/** A connected sink bound to `group`; closing it also disconnects the consumer it borrowed, after the sink. */
async function boundSink(group: string): Promise<OffsetStore<KafkaTransaction>> {
  instances += 1;
  const sink = new KafkaTransactionalSink({ brokers: services.kafkaBrokers, transactionalId: `${run}-${instances}`, stateTopic });
  const consumer = createKafkaConsumer({ 'bootstrap.servers': services.kafkaBrokers, 'group.id': group, 'enable.auto.commit': false });
  await consumer.connect(10_000);
  const binding: KafkaGroupBinding = {
    groupId: group,
    committed: async (partitions, timeoutMs) =>
      new Map(
        (await consumer.committed(partitions, timeoutMs))
          .filter(({ offset }) => offset >= 0)
          .map(({ topic, partition, offset }) => [`${topic}:${partition}`, offset]),
      ),
    commit: (offsets) => consumer.commit(offsets),
    groupMetadata: consumer.groupMetadata,
  };
  try {
    await sink.connect({ kafka: binding });
  } catch (error) {
    await consumer.disconnect();
    throw error;
  }
  const close = sink.close.bind(sink);
  let closing: Promise<void> | undefined;
  sink.close = () =>
    (closing ??= (async () => {
      await close();
      await consumer.disconnect();
    })());
  return sink;
}

describeOffsetStoreContract<KafkaTransaction>(
  'KafkaTransactionalSink',
  {
    create: (group) => boundSink(group),
    transactionalWrite: (tx, key, value) => void tx.send(written, key, JSON.stringify({ key, value })),
    readWritten: async (key) => {
      const values = (await readTopic(written, 1)).map((text) => JSON.parse(text) as { key: string; value: string });
      return values.filter((entry) => entry.key === key).pop()?.value;
    },
  },
  { describe, it, expect },
);
