import { randomBytes } from 'node:crypto';
import { ConfigError, InMemoryOffsetStore, KafkaError, OffsetRange } from '@dstream/core';
import * as Kafka from 'node-rdkafka';
import { brokersFromEnv, committedRecords, createTopic, integerFlag, produce } from '../src';

const brokers = brokersFromEnv();
const uniqueTopic = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** A client of our own to look at what the helpers left on the broker. */
let client: Kafka.Producer;

beforeAll(async () => {
  client = new Kafka.Producer({ 'bootstrap.servers': brokers });
  await new Promise<void>((resolve, reject) => client.connect({ timeout: 10_000 }, (error) => (error ? reject(error) : resolve())));
});

afterAll(async () => {
  await new Promise<void>((resolve) => client.disconnect(() => resolve()));
});

const partitionCount = (topic: string) =>
  new Promise<number>((resolve, reject) =>
    client.getMetadata({ topic, timeout: 10_000 }, (error, metadata) =>
      error ? reject(error) : resolve(metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0),
    ),
  );

/** Records stored in one partition: the high watermark of a topic that started empty. */
const highWatermark = (topic: string, partition: number) =>
  new Promise<number>((resolve, reject) =>
    client.queryWatermarkOffsets(topic, partition, 10_000, (error, offsets) => (error ? reject(error) : resolve(offsets.highOffset))),
  );

function* numbered(count: number, partitions: number) {
  for (let i = 0; i < count; i++) yield { key: `k${i}`, value: `record ${i}`, partition: i % partitions };
}

describe('createTopic', () => {
  it('creates a topic with the partitions asked for and leaves an existing one as it is', async () => {
    const topic = uniqueTopic('support-create');
    await createTopic(brokers, topic, 3);
    await createTopic(brokers, topic, 5);

    expect(await partitionCount(topic)).toBe(3);
  });

  it('refuses a partition count below one before contacting the brokers', async () => {
    await expect(createTopic('127.0.0.1:1', 'never-created', 0)).rejects.toThrow(ConfigError);
  });
});

describe('produce', () => {
  it('resolves with the number of records once the brokers acknowledged every one', async () => {
    const topic = uniqueTopic('support-produce');
    await createTopic(brokers, topic, 3);

    const sent = await produce(brokers, topic, numbered(3000, 3));

    expect(sent).toBe(3000);
    expect(await Promise.all([0, 1, 2].map((partition) => highWatermark(topic, partition)))).toEqual([1000, 1000, 1000]);
  });

  it('sends a record that names another topic to that topic', async () => {
    const [main, side] = [uniqueTopic('support-main'), uniqueTopic('support-side')];
    await Promise.all([createTopic(brokers, main, 1), createTopic(brokers, side, 1)]);

    const sent = await produce(brokers, main, [
      { key: null, value: 'a' },
      { key: null, value: 'b', topic: side },
      { key: null, value: 'c' },
    ]);

    expect(sent).toBe(3);
    expect([await highWatermark(main, 0), await highWatermark(side, 0)]).toEqual([2, 1]);
  });

  it('paces the records at ratePerSecond', async () => {
    const topic = uniqueTopic('support-rate');
    await createTopic(brokers, topic, 1);

    const started = Date.now();
    await produce(brokers, topic, numbered(50, 1), { ratePerSecond: 100 });

    // The 50th record is due 490 ms after the first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(490);
    expect(await highWatermark(topic, 0)).toBe(50);
  });

  it('stops reading an endless input at the first failed delivery, with at most 10,000 records unacknowledged', async () => {
    const topic = uniqueTopic('support-endless');
    await createTopic(brokers, topic, 1);
    let pulled = 0;
    function* endless() {
      // The first record names a partition the topic does not have, so its delivery fails.
      yield { key: null, value: 'undeliverable', partition: 7 };
      for (;;) {
        pulled += 1;
        yield { key: null, value: `record ${pulled}` };
      }
    }

    await expect(produce(brokers, topic, endless())).rejects.toThrow(KafkaError);
    expect(pulled).toBeLessThanOrEqual(10_000);
    expect(await highWatermark(topic, 0)).toBe(pulled);
  });

  it('rejects with a KafkaError naming the topic when a record cannot be delivered', async () => {
    const topic = uniqueTopic('support-missing-partition');
    await createTopic(brokers, topic, 1);

    const sending = produce(brokers, topic, [{ key: null, value: 'x', partition: 7 }]);

    await expect(sending).rejects.toThrow(KafkaError);
    await expect(sending).rejects.toThrow(topic);
  });

  it('refuses a rate that is not a positive number before connecting', async () => {
    await expect(produce('127.0.0.1:1', 't', [], { ratePerSecond: 0 })).rejects.toThrow(
      'ratePerSecond must be a positive number of records per second; got 0',
    );
  });
});

describe('committedRecords', () => {
  it('adds up the offsets stored for the partitions asked about', async () => {
    const store = new InMemoryOffsetStore();
    await store.connect();
    await store.commit('g', [
      { range: OffsetRange.create('t', 0, 0, 40), expectedOffset: null },
      { range: OffsetRange.create('t', 1, 0, 2), expectedOffset: null },
      { range: OffsetRange.create('other', 0, 0, 500), expectedOffset: null },
    ]);

    expect(await committedRecords(store, 'g', [0, 1, 2].map((partition) => ({ topic: 't', partition })))).toBe(42);
  });
});

describe('integerFlag', () => {
  const argv = ['--records', '300', '--rate', 'fast'];

  it('reads the integer after the flag, or the fallback when the flag is absent', () => {
    expect([integerFlag(argv, '--records', 2000), integerFlag(argv, '--missing', 7)]).toEqual([300, 7]);
  });

  it('refuses a value that is not an integer of at least the minimum, saying the fix', () => {
    expect(() => integerFlag(argv, '--rate', 1000)).toThrow('--rate must be an integer of at least 1; got "fast". Example: --rate 1000.');
    expect(() => integerFlag(argv, '--records', 2000, 500)).toThrow(ConfigError);
    expect(() => integerFlag(['--records'], '--records', 2000)).toThrow(ConfigError);
  });
});
