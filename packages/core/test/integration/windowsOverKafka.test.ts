// Windows and state over the Kafka direct stream: every batch is read while current, also the
// batches a slower window's slide skips, so no record is committed unread.
import { ConsumerStrategies, InMemoryOffsetStore, KafkaUtils, StreamingContext, silentLogger } from '@dstream/core';
import { createTopic, produce, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';
import { kafkaParams } from './kafka/helpers';

jest.setTimeout(90_000);

beforeAll(() => requireService('Kafka', services.kafkaBrokers));

/** A context over a new 2-partition topic holding 300 records per partition, values as strings. */
async function job(name: string) {
  const topic = uniqueName(name);
  await createTopic(topic, 2);
  await produce(topic, [0, 1], 300);
  const group = uniqueName('group');
  const store = new InMemoryOffsetStore();
  const ssc = new StreamingContext({ appName: uniqueName('windows-it'), batchIntervalMs: 300, stopOnSignals: false, logger: silentLogger });
  const records = KafkaUtils.createDirectStream<string | null, string | null>(ssc, {
    kafkaParams: kafkaParams(group),
    strategy: ConsumerStrategies.Assign([0, 1].map((partition) => ({ topic, partition }))),
    offsetStore: store,
    startingOffsets: 'earliest',
    valueDeserializer: 'string',
    // Small batches, so the records spread over several windows.
    maxRatePerPartition: 200,
    connectTimeoutMs: 10_000,
    logger: silentLogger,
  });
  return { ssc, values: records.map((record) => String(record.value)), store, group, topic };
}

async function expectCommitted(store: InMemoryOffsetStore, group: string, topic: string): Promise<void> {
  const stored = await new InMemoryOffsetStore(store).load(group, [0, 1].map((partition) => ({ topic, partition })));
  expect([stored.get(`${topic}:0`), stored.get(`${topic}:1`)]).toEqual([300, 300]);
}

describe('windows and state over a Kafka direct stream', () => {
  it('counts every record once in tumbling windows of two batches, and commits every offset', async () => {
    const { ssc, values, store, group, topic } = await job('windows');
    const windowed: string[] = [];
    let windowCount = 0;
    // Tumbling windows of two batches: the first batch of each pair is off the window's slide,
    // and no other output reads it at its time.
    values.window(600, 600).foreachBatch((batch) => {
      windowCount++;
      windowed.push(...batch);
    });
    await ssc.start();
    try {
      await waitFor(() => windowed.length >= 600, 40_000, 'all 600 records in windows');
    } finally {
      await ssc.stop({ graceful: true });
    }
    expect(windowCount).toBeGreaterThan(1);
    expect(windowed).toHaveLength(600);
    expect(new Set(windowed).size).toBe(600);
    await expectCommitted(store, group, topic);
  });

  it('counts every record in updateStateByKey read through a slower window, and commits every offset', async () => {
    const { ssc, values, store, group, topic } = await job('state');
    const perPartition = new Map<string, number>();
    values
      .map((value) => [value.split(':')[0], 1] as const)
      .updateStateByKey<number>((ones, total = 0) => total + ones.length)
      .window(600, 600)
      .foreachBatch((states) => {
        for (const [partition, total] of states) perPartition.set(partition, total);
      });
    await ssc.start();
    try {
      await waitFor(() => (perPartition.get('0') ?? 0) + (perPartition.get('1') ?? 0) >= 600, 40_000, 'all 600 records counted');
    } finally {
      await ssc.stop({ graceful: true });
    }
    expect(Object.fromEntries(perPartition)).toEqual({ 0: 300, 1: 300 });
    await expectCommitted(store, group, topic);
  });
});
