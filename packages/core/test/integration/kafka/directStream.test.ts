// The direct stream against the real broker: ranges, fetching, commits and restarts.
import { ConsumerStrategies, InMemoryOffsetStore } from '@dstream/core';
import { createTopic, requireService, services, uniqueName, waitFor } from '../helpers/services';
import { expectTiling, produce, streamingJob, valuesOf } from './helpers';

beforeAll(() => requireService('Kafka', services.kafkaBrokers));

describe('direct stream over assigned partitions', () => {
  it('tiles each partition with consecutive ranges that cover every produced record exactly once', async () => {
    const topic = uniqueName('tiles');
    await createTopic(topic, 3);
    await produce(topic, [0, 1, 2], 200);
    const { ssc, batches, store, group } = streamingJob({
      strategy: ConsumerStrategies.Assign([0, 1, 2].map((partition) => ({ topic, partition }))),
      startingOffsets: 'earliest',
    });
    await ssc.start();
    try {
      await waitFor(() => valuesOf(batches).length >= 600, 30_000, 'the first 600 records');
      await produce(topic, [0, 1, 2], 100, 200);
      await waitFor(() => valuesOf(batches).length >= 900, 30_000, 'all 900 records');
    } finally {
      await ssc.stop({ graceful: true });
    }
    const values = valuesOf(batches);
    expect(values).toHaveLength(900);
    expect(new Set(values).size).toBe(900);
    const ends = expectTiling(batches);
    const stored = await store.load(group, [0, 1, 2].map((partition) => ({ topic, partition })));
    for (const partition of [0, 1, 2]) {
      expect(ends.get(`${topic}:${partition}`)).toBe(300);
      expect(stored.get(`${topic}:${partition}`)).toBe(300);
      const ofPartition = values.filter((v) => v.startsWith(`${partition}:`));
      expect(ofPartition).toEqual(Array.from({ length: 300 }, (_, i) => `${partition}:${i}`));
    }
  });

  it('starts at explicit offsets when the store holds none', async () => {
    const topic = uniqueName('explicit');
    await createTopic(topic, 2);
    await produce(topic, [0, 1], 50);
    const { ssc, batches } = streamingJob({
      strategy: ConsumerStrategies.Assign(
        [{ topic, partition: 0 }, { topic, partition: 1 }],
        [{ topic, partition: 0, offset: 40 }],
      ),
      startingOffsets: 'latest',
    });
    await ssc.start();
    try {
      await waitFor(() => valuesOf(batches).length >= 10, 30_000, 'the 10 records after offset 40');
      await produce(topic, [1], 5, 50);
      await waitFor(() => valuesOf(batches).length >= 15, 30_000, 'the records produced after the start');
    } finally {
      await ssc.stop({ graceful: true });
    }
    expect(valuesOf(batches).sort()).toEqual(
      [...Array.from({ length: 10 }, (_, i) => `0:${40 + i}`), ...Array.from({ length: 5 }, (_, i) => `1:${50 + i}`)].sort(),
    );
  });

  it('commits the last batch on graceful stop and a new context resumes at the next offset', async () => {
    const topic = uniqueName('resume');
    await createTopic(topic, 1);
    await produce(topic, [0], 100);
    const store = new InMemoryOffsetStore();
    const group = uniqueName('group');
    const strategy = ConsumerStrategies.Assign([{ topic, partition: 0 }]);
    const first = streamingJob({ strategy, startingOffsets: 'earliest', offsetStore: store }, { group });
    await first.ssc.start();
    await waitFor(() => valuesOf(first.batches).length >= 100, 30_000, 'the first 100 records');
    await first.ssc.stop({ graceful: true });
    expect((await store.load(group, [{ topic, partition: 0 }])).get(`${topic}:0`)).toBe(100);

    await produce(topic, [0], 50, 100);
    const second = streamingJob({ strategy, startingOffsets: 'earliest', offsetStore: store }, { group });
    await second.ssc.start();
    try {
      await waitFor(() => valuesOf(second.batches).length >= 50, 30_000, 'the 50 new records');
    } finally {
      await second.ssc.stop({ graceful: true });
    }
    expect(valuesOf(second.batches)).toEqual(Array.from({ length: 50 }, (_, i) => `0:${100 + i}`));
    expect(second.batches.find((b) => b.ranges.length > 0)?.ranges[0].fromOffset).toBe(100);
  });
});
