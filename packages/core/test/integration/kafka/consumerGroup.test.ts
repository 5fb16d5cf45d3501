// Subscribe strategies against the real broker: group assignment, rebalances between members,
// topics and partitions that appear while the stream runs.
import { ConsumerStrategies, InMemoryOffsetStore, KafkaError } from '@dstream/core';
import type { InMemoryTransaction } from '@dstream/core';
import { addPartitions, createTopic, produce, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';
import { expectTiling, kafkaParams, streamingJob, valuesOf } from './helpers';

// Rebalances and restarts take seconds on a real broker.
jest.setTimeout(90_000);

beforeAll(() => requireService('Kafka', services.kafkaBrokers));

describe('direct stream in a consumer group', () => {
  it('reads every partition of a subscribed topic from the group assignment', async () => {
    const topic = uniqueName('subscribe');
    await createTopic(topic, 2);
    await produce(topic, [0, 1], 50);
    const { ssc, batches, store, group } = streamingJob({
      strategy: ConsumerStrategies.Subscribe([topic]),
      startingOffsets: 'earliest',
    });
    await ssc.start();
    try {
      await waitFor(() => valuesOf(batches).length >= 100, 30_000, 'all 100 records');
    } finally {
      await ssc.stop({ graceful: true });
    }
    expect(valuesOf(batches).sort()).toEqual(
      [0, 1].flatMap((p) => Array.from({ length: 50 }, (_, i) => `${p}:${i}`)).sort(),
    );
    expectTiling(batches);
    const stored = await new InMemoryOffsetStore(store).load(group, [{ topic, partition: 0 }, { topic, partition: 1 }]);
    expect([stored.get(`${topic}:0`), stored.get(`${topic}:1`)]).toEqual([50, 50]);
  });

  it.each([
    ['the eager protocol (range,roundrobin)', 'range,roundrobin'],
    ['the cooperative protocol (cooperative-sticky)', 'cooperative-sticky'],
  ])('splits partitions between two contexts of one group with %s; together they process and commit every record', async (_, assignor) => {
    const topic = uniqueName('two-members');
    await createTopic(topic, 4);
    const store = new InMemoryOffsetStore();
    const group = uniqueName('group');
    const strategy = ConsumerStrategies.Subscribe([topic]);
    const params = { ...kafkaParams(group), 'partition.assignment.strategy': assignor };
    const a = streamingJob({ strategy, startingOffsets: 'earliest', offsetStore: store, kafkaParams: params }, { group });
    const b = streamingJob({ strategy, startingOffsets: 'earliest', offsetStore: store, kafkaParams: params }, { group });
    await a.ssc.start();
    await produce(topic, [0, 1, 2, 3], 50);
    await waitFor(() => valuesOf(a.batches).length >= 200, 30_000, 'the first member to read all 200 records');
    // The second member's join revokes partitions from the first: neither may commit what it no longer owns.
    await b.ssc.start();
    await waitFor(() => new Set(b.batches.flatMap((batch) => batch.ranges.map((r) => r.key))).size > 0, 30_000, 'a rebalance');
    await produce(topic, [0, 1, 2, 3], 50, 50);
    const all = () => new Set([...valuesOf(a.batches), ...valuesOf(b.batches)]);
    const partitions = [0, 1, 2, 3].map((partition) => ({ topic, partition }));
    try {
      await waitFor(
        async () => {
          const stored = await new InMemoryOffsetStore(store).load(group, partitions);
          return all().size >= 400 && partitions.every((p) => stored.get(`${topic}:${p.partition}`) === 100);
        },
        60_000,
        'all 400 records processed and committed',
      );
      expect(a.ssc.state).toBe('active');
      expect(b.ssc.state).toBe('active');
    } finally {
      await Promise.all([a.ssc.stop({ graceful: true }), b.ssc.stop({ graceful: true })]);
    }
    const owners = (batches: typeof a.batches) =>
      new Set(batches.flatMap((batch) => batch.ranges.filter((r) => r.fromOffset >= 50).map((r) => r.key)));
    // After the rebalance each member read its own share of the new records.
    expect(owners(a.batches).size).toBeGreaterThan(0);
    expect(owners(b.batches).size).toBeGreaterThan(0);
    expect(all().size).toBe(400);
  });

  it.each([
    ['cooperative-sticky (the default)', undefined],
    ['the eager protocol', 'range,roundrobin'],
  ])(
    'counts every record exactly once under exactly-once while a second member joins and leaves again and again, with %s',
    async (_, assignor) => {
      const topic = uniqueName('churn');
      await createTopic(topic, 3);
      const store = new InMemoryOffsetStore();
      const group = uniqueName('group');
      const strategy = ConsumerStrategies.Subscribe([topic]);
      const params = { ...kafkaParams(group), ...(assignor === undefined ? {} : { 'partition.assignment.strategy': assignor }) };
      let members = 0;
      /** A member that counts each record it delivers inside the store transaction that commits its offsets. */
      const member = () => {
        const name = `m${members++}`;
        return streamingJob(
          {
            strategy,
            startingOffsets: 'earliest',
            offsetStore: store,
            kafkaParams: params,
            delivery: 'exactly-once',
            // Small batches and a small read-ahead: batches are in flight and partitions paused at every rebalance.
            maxRatePerPartition: 250,
            maxBufferedRecordsPerPartition: 50,
            onBatch: (records, batch) => {
              const tx = batch.transaction as InMemoryTransaction;
              for (const record of records) tx.set(`seen ${record.value} ${name} ${batch.time}`, 1);
            },
          },
          { group, batchIntervalMs: 200 },
        );
      };
      const resident = member();
      // A backlog that takes ~12 s at 250 records/s per partition: every rebalance lands mid-backlog.
      await produce(topic, [0, 1, 2], 3000);
      await resident.ssc.start();
      let produced = 3000;
      let visitor: ReturnType<typeof member> | undefined;
      try {
        for (let cycle = 0; cycle < 5; cycle++) {
          const current = member();
          visitor = current;
          await current.ssc.start();
          // New records for every partition before the visitor is waited for: on a slow run the
          // resident may have read the whole backlog by now, and the visitor would find nothing.
          await produce(topic, [0, 1, 2], 100, produced);
          produced += 100;
          await waitFor(() => current.batches.some((batch) => batch.records.length > 0), 30_000, `visitor ${cycle} to process records`);
          await current.ssc.stop({ graceful: true });
        }
        const partitions = [0, 1, 2].map((partition) => ({ topic, partition }));
        await waitFor(
          async () => {
            const stored = await new InMemoryOffsetStore(store).load(group, partitions);
            return partitions.every((p) => stored.get(`${topic}:${p.partition}`) === produced);
          },
          60_000,
          'the resident member to commit every record',
        );
        expect(resident.ssc.state).toBe('active');
      } finally {
        // A failed wait leaves the visitor of that cycle running: its consumer would keep the run alive.
        await visitor?.ssc.stop({ graceful: true });
        await resident.ssc.stop({ graceful: true });
      }
      const counts = new Map<string, number>();
      for (const key of store.data.keys()) {
        const value = key.split(' ')[1]!;
        counts.set(value, (counts.get(value) ?? 0) + 1);
      }
      const expected = [0, 1, 2].flatMap((p) => Array.from({ length: produced }, (_, i) => `${p}:${i}`));
      expect(expected.filter((value) => counts.get(value) !== 1)).toEqual([]);
      expect(counts.size).toBe(expected.length);
    },
    180_000,
  );

  it('reads a topic matching the pattern that is created while the stream runs, from its first record', async () => {
    const prefix = uniqueName('pattern');
    await createTopic(`${prefix}-a`, 1);
    await produce(`${prefix}-a`, [0], 5);
    const { ssc, batches } = streamingJob({
      strategy: ConsumerStrategies.SubscribePattern(new RegExp(`^${prefix}-.*`)),
      startingOffsets: 'earliest',
      metadataRefreshMs: 1000,
    });
    await ssc.start();
    try {
      await waitFor(() => valuesOf(batches).length >= 5, 30_000, 'the records of the first topic');
      await createTopic(`${prefix}-b`, 1);
      await produce(`${prefix}-b`, [0], 7);
      await waitFor(
        () => batches.some((batch) => batch.records.some((r) => r.topic === `${prefix}-b`)) &&
          batches.flatMap((batch) => batch.records).filter((r) => r.topic === `${prefix}-b`).length >= 7,
        45_000,
        'the records of the topic created while running',
      );
    } finally {
      await ssc.stop({ graceful: true });
    }
    const ofB = batches.flatMap((batch) => batch.records).filter((r) => r.topic === `${prefix}-b`);
    expect(ofB.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('fails to start at once, naming the topic, when a subscribed topic does not exist', async () => {
    const topic = uniqueName('present');
    await createTopic(topic, 1);
    const missing = uniqueName('absent');
    const { ssc } = streamingJob({ strategy: ConsumerStrategies.Subscribe([topic, missing]) });
    const startedAt = Date.now();
    const error = await ssc.start().catch((e: unknown) => e);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(error).toBeInstanceOf(KafkaError);
    expect((error as Error).message).toContain(`does not have: ${missing}. Create it (e.g. kafka-topics --create --topic ${missing}`);
    expect((error as Error).message).not.toContain(`${topic},`);
  });

  it('reads a partition added while the stream runs from its first offset', async () => {
    const topic = uniqueName('grow');
    await createTopic(topic, 1);
    const { ssc, batches } = streamingJob({
      strategy: ConsumerStrategies.Subscribe([topic]),
      startingOffsets: 'latest',
      metadataRefreshMs: 1000,
    });
    await ssc.start();
    try {
      await addPartitions(topic, 2);
      // Written before the stream notices the partition: still read, since new partitions start at 'earliest'.
      await produce(topic, [1], 10);
      await waitFor(() => valuesOf(batches).length >= 10, 45_000, 'the records of the new partition');
    } finally {
      await ssc.stop({ graceful: true });
    }
    expect(valuesOf(batches)).toEqual(Array.from({ length: 10 }, (_, i) => `1:${i}`));
  });
});
