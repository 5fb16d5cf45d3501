// The direct stream against the real broker: ranges, fetching, commits and restarts.
import { ConsumerStrategies, InMemoryOffsetStore, KafkaError, OffsetOutOfRangeError, OffsetRange } from '@dstream/core';
import { createTopic, produce, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';
import { expectTiling, streamingJob, valuesOf } from './helpers';

// Rebalances and restarts take seconds on a real broker.
jest.setTimeout(90_000);

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
    const stored = await new InMemoryOffsetStore(store).load(group, [0, 1, 2].map((partition) => ({ topic, partition })));
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
    try {
      await waitFor(() => valuesOf(first.batches).length >= 100, 30_000, 'the first 100 records');
    } finally {
      await first.ssc.stop({ graceful: true });
    }
    expect((await new InMemoryOffsetStore(store).load(group, [{ topic, partition: 0 }])).get(`${topic}:0`)).toBe(100);

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

  it('fails a batch whose record makes the output throw without advancing offsets, and a restart reads it again', async () => {
    const topic = uniqueName('poison');
    await createTopic(topic, 1);
    await produce(topic, [0], 20);
    const store = new InMemoryOffsetStore();
    const group = uniqueName('group');
    const strategy = ConsumerStrategies.Assign([{ topic, partition: 0 }]);
    const first = streamingJob(
      { strategy, startingOffsets: 'earliest', offsetStore: store, maxRatePerPartition: 20 },
      { group, fail: (record) => record.value === '0:12' },
    );
    await first.ssc.start();
    await expect(first.ssc.awaitTermination()).rejects.toThrow('refusing record 0:12');
    const committed = (await new InMemoryOffsetStore(store).load(group, [{ topic, partition: 0 }])).get(`${topic}:0`) ?? 0;
    expect(committed).toBeLessThanOrEqual(12);
    expect(valuesOf(first.batches)).toEqual(Array.from({ length: committed }, (_, i) => `0:${i}`));

    const second = streamingJob({ strategy, startingOffsets: 'earliest', offsetStore: store }, { group });
    await second.ssc.start();
    try {
      await waitFor(() => valuesOf(second.batches).length >= 20 - committed, 30_000, 'the uncommitted records');
    } finally {
      await second.ssc.stop({ graceful: true });
    }
    expect(valuesOf(second.batches)).toEqual(Array.from({ length: 20 - committed }, (_, i) => `0:${committed + i}`));
  });

  it("refuses to start with 'fail' when the stored offset is past the log end, and resets with 'earliest'", async () => {
    const topic = uniqueName('out-of-range');
    await createTopic(topic, 1);
    await produce(topic, [0], 10);
    const store = new InMemoryOffsetStore();
    const group = uniqueName('group');
    await store.commit(group, [{ range: OffsetRange.create(topic, 0, 0, 1000), expectedOffset: null }]);
    const strategy = ConsumerStrategies.Assign([{ topic, partition: 0 }]);
    const failing = streamingJob({ strategy, offsetStore: store }, { group });
    const error = await failing.ssc.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OffsetOutOfRangeError);
    expect(error).toMatchObject({ topic, partition: 0, offset: 1000, logStartOffset: 0, logEndOffset: 10 });
    expect(failing.batches).toHaveLength(0);

    const resetting = streamingJob({ strategy, offsetStore: store, offsetOutOfRange: 'earliest' }, { group });
    await resetting.ssc.start();
    try {
      await waitFor(() => valuesOf(resetting.batches).length >= 10, 30_000, 'the 10 records from the log start');
    } finally {
      await resetting.ssc.stop({ graceful: true });
    }
    expect(valuesOf(resetting.batches)).toEqual(Array.from({ length: 10 }, (_, i) => `0:${i}`));
    expect((await new InMemoryOffsetStore(store).load(group, [{ topic, partition: 0 }])).get(`${topic}:0`)).toBe(10);
  });

  it('fails to start with a KafkaError naming the brokers within connectTimeoutMs when no broker answers', async () => {
    const { ssc } = streamingJob({
      strategy: ConsumerStrategies.Assign([{ topic: 'nowhere', partition: 0 }]),
      kafkaParams: { 'bootstrap.servers': '127.0.0.1:1', 'group.id': uniqueName('group') },
      connectTimeoutMs: 2000,
    });
    const startedAt = Date.now();
    const error = await ssc.start().catch((e: unknown) => e);
    expect(Date.now() - startedAt).toBeLessThan(6000);
    expect(error).toBeInstanceOf(KafkaError);
    expect((error as Error).message).toContain('127.0.0.1:1');
    expect((error as Error).message).toContain('2000 ms');
  });

  it('completes a first batch holding more records of a partition than the default buffer limit', async () => {
    const topic = uniqueName('big-batch');
    await createTopic(topic, 1);
    await produce(topic, [0], 25_000);
    const { ssc, batches } = streamingJob(
      {
        strategy: ConsumerStrategies.Assign([{ topic, partition: 0 }]),
        startingOffsets: 'earliest',
        // Room for 25,000 records even at the ~4.4 KiB each assumed before any was fetched: the
        // first tick may come before the first fetch response.
        maxBatchBytes: 128 * 2 ** 20,
      },
      { batchIntervalMs: 1000 },
    );
    await ssc.start();
    try {
      await waitFor(() => valuesOf(batches).length >= 25_000, 60_000, 'all 25,000 records');
    } finally {
      await ssc.stop({ graceful: true });
    }
    // No rate limit, a byte budget it fits in: the first batch is planned up to the log end, 2.5 times the default
    // maxBufferedRecordsPerPartition (10,000), and must still complete.
    const first = batches.find((batch) => batch.records.length > 0)!;
    expect(first.ranges.map(String)).toEqual([`${topic}-0 [0, 25000)`]);
    expect(first.records).toHaveLength(25_000);
    expectTiling(batches);
  });

  it('bounds every range by maxRatePerPartition times the batch interval', async () => {
    const topic = uniqueName('max-rate');
    await createTopic(topic, 1);
    await produce(topic, [0], 150);
    const { ssc, batches } = streamingJob(
      { strategy: ConsumerStrategies.Assign([{ topic, partition: 0 }]), startingOffsets: 'earliest', maxRatePerPartition: 100 },
      { batchIntervalMs: 300 },
    );
    await ssc.start();
    try {
      await waitFor(() => valuesOf(batches).length >= 150, 30_000, 'all 150 records');
    } finally {
      await ssc.stop({ graceful: true });
    }
    const sizes = batches.map((b) => b.records.length).filter((n) => n > 0);
    expect(Math.max(...sizes)).toBe(30);
    expect(sizes.length).toBeGreaterThanOrEqual(5);
    expectTiling(batches);
  });

  it('bounds the first batch after a restart by backpressure.initialRate', async () => {
    const topic = uniqueName('initial-rate');
    await createTopic(topic, 2);
    await produce(topic, [0, 1], 100);
    const { ssc, batches } = streamingJob(
      {
        strategy: ConsumerStrategies.Assign([{ topic, partition: 0 }, { topic, partition: 1 }]),
        startingOffsets: 'earliest',
        backpressure: { enabled: true, initialRate: 100 },
      },
      { batchIntervalMs: 300 },
    );
    await ssc.start();
    try {
      await waitFor(() => batches.length >= 1, 30_000, 'the first batch');
    } finally {
      await ssc.stop({ graceful: true });
    }
    // 100 records/s for the stream over 0.3 s, split between two equally lagging partitions.
    expect(batches[0].ranges.map((r) => r.count)).toEqual([15, 15]);
    expect(batches[0].records).toHaveLength(30);
  });
});
