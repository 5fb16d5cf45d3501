// mirrorOffsetsToGroup: offsets kept in another store are also visible in the consumer group, so
// Kafka's own lag tools see the job.
import { ConsumerStrategies, InMemoryOffsetStore, KafkaUtils, StreamingContext, silentLogger } from '@dstream/core';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';
import { ensureTopic, produce, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';

jest.setTimeout(90_000);

beforeAll(() => requireService('Kafka', services.kafkaBrokers));

it('mirrors what another store committed to the consumer group, up to the last batch of a graceful stop', async () => {
  const topic = uniqueName('mirror');
  const group = uniqueName('group');
  await ensureTopic(topic, 2);
  await produce(topic, [0, 1], 120);
  const store = new InMemoryOffsetStore();
  const ssc = new StreamingContext({ appName: uniqueName('mirror'), batchIntervalMs: 200, stopOnSignals: false, logger: silentLogger });
  const stream = KafkaUtils.createDirectStream(ssc, {
    kafkaParams: { 'bootstrap.servers': services.kafkaBrokers, 'group.id': group },
    strategy: ConsumerStrategies.Subscribe([topic]),
    offsetStore: store,
    mirrorOffsetsToGroup: true,
    startingOffsets: 'earliest',
    logger: silentLogger,
  });
  let seen = 0;
  stream.foreachBatch((records) => void (seen += records.length));
  const partitions = [0, 1].map((partition) => ({ topic, partition }));
  await ssc.start();
  try {
    await waitFor(() => seen >= 240, 30_000, 'all 240 records');
    await produce(topic, [0], 5, 120);
    await waitFor(() => seen >= 245, 30_000, 'the 5 more records');
  } finally {
    await ssc.stop({ graceful: true });
  }
  const inStore = await new InMemoryOffsetStore(store).load(group, partitions);
  const groupView = new KafkaOffsetStore({ brokers: services.kafkaBrokers });
  await groupView.connect();
  try {
    const inGroup = await groupView.load(group, partitions);
    expect([inGroup.get(`${topic}:0`), inGroup.get(`${topic}:1`)]).toEqual([125, 120]);
    expect(inGroup).toEqual(inStore);
  } finally {
    await groupView.close();
  }
});
