// The direct stream's own Fetch client against the real broker: compressed batches, transactions,
// the hand-over to librdkafka, and librdkafka fetching on request.
import { ConsumerStrategies, InMemoryOffsetStore } from '@dstream/core';
import type { ConsumerRecord } from '@dstream/core';
import { createTopic, produce, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';
import * as Kafka from 'node-rdkafka';
import { expectTiling, streamingJob, valuesOf } from './helpers';

jest.setTimeout(90_000);

beforeAll(() => requireService('Kafka', services.kafkaBrokers));

/** Each partition's values in the order the batches saw them. */
function byPartition(batches: ReturnType<typeof streamingJob>['batches']): Map<number, string[]> {
  const values = new Map<number, string[]>();
  for (const batch of batches) {
    for (const record of batch.records) {
      const list = values.get(record.partition) ?? [];
      list.push(String(record.value));
      values.set(record.partition, list);
    }
  }
  return values;
}

const expectedValues = (partition: number, count: number, startAt = 0): string[] =>
  Array.from({ length: count }, (_, i) => `${partition}:${startAt + i}`);

/** Runs a stream over `partitions` of `topic` from the start until it saw `count` records, and stops it gracefully. */
async function readAll(
  topic: string,
  partitions: readonly number[],
  count: number,
  extra: { fetchEngine?: 'wire' | 'librdkafka'; onRunning?: () => Promise<void> } = {},
): Promise<ReturnType<typeof streamingJob>> {
  const job = streamingJob({
    strategy: ConsumerStrategies.Assign(partitions.map((partition) => ({ topic, partition }))),
    startingOffsets: 'earliest',
    ...(extra.fetchEngine === undefined ? {} : { fetchEngine: extra.fetchEngine }),
  });
  await job.ssc.start();
  try {
    await extra.onRunning?.();
    await waitFor(() => valuesOf(job.batches).length >= count, 30_000, `${count} records of ${topic}`);
  } finally {
    await job.ssc.stop({ graceful: true });
  }
  return job;
}

describe("the direct stream's own fetcher", () => {
  it('reads gzip-compressed batches with keys, headers and timestamps as librdkafka delivers them', async () => {
    const topic = uniqueName('wire-gzip');
    await createTopic(topic, 2);
    const producer = new Kafka.HighLevelProducer({
      'bootstrap.servers': services.kafkaBrokers,
      'compression.codec': 'gzip',
      'linger.ms': 20,
    });
    await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())));
    const timestamp = Date.now() - 60_000;
    try {
      await Promise.all(
        Array.from({ length: 300 }, (_, i) => {
          const partition = i % 2;
          const key = i % 3 === 0 ? null : `key-${i}`;
          const headers = i % 5 === 0 ? [{ trace: `t-${i}` }] : undefined;
          return new Promise<void>((resolve, reject) =>
            producer.produce(topic, partition, Buffer.from(`${partition}:${Math.floor(i / 2)}`), key, timestamp + i, headers ?? [], (e: unknown) =>
              e ? reject(e) : resolve(),
            ),
          );
        }),
      );
    } finally {
      await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
    }
    const job = await readAll(topic, [0, 1], 300);
    const records = job.batches.flatMap((b) => b.records) as ConsumerRecord<string | null, string | null>[];
    expect(records).toHaveLength(300);
    for (const partition of [0, 1]) expect(byPartition(job.batches).get(partition)).toEqual(expectedValues(partition, 150));
    for (const record of records) {
      const i = Number(String(record.value).split(':')[1]) * 2 + record.partition;
      expect(record.key).toBe(i % 3 === 0 ? null : `key-${i}`);
      expect(record.timestamp).toBe(timestamp + i);
      const trace = record.headers.find((h) => h.key === 'trace');
      if (i % 5 === 0) expect(trace?.value.toString()).toBe(`t-${i}`);
      else expect(trace).toBeUndefined();
    }
    expectTiling(job.batches);
  });

  it('skips the records of aborted transactions and completes ranges that end in a transaction marker', async () => {
    const topic = uniqueName('wire-txn');
    await createTopic(topic, 1);
    const producer = new Kafka.Producer({
      'bootstrap.servers': services.kafkaBrokers,
      'transactional.id': uniqueName('wire-txn-producer'),
      dr_cb: true,
    });
    await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())));
    producer.setPollInterval(10);
    const call = (f: (done: (e: unknown) => void) => void): Promise<void> =>
      new Promise<void>((resolve, reject) => f((e) => (e ? reject(e) : resolve())));
    try {
      await call((done) => producer.initTransactions(10_000, done));
      let n = 0;
      for (const outcome of ['commit', 'abort', 'commit', 'abort', 'commit'] as const) {
        await call((done) => producer.beginTransaction(done));
        for (let i = 0; i < 20; i++) producer.produce(topic, 0, Buffer.from(`${outcome}:${n++}`));
        // Sent before the abort: librdkafka drops an aborted transaction's unsent records, and the
        // log would hold neither them nor the abort marker.
        await call((done) => producer.flush(10_000, done));
        if (outcome === 'commit') await call((done) => producer.commitTransaction(10_000, done));
        else await call((done) => producer.abortTransaction(10_000, done));
      }
    } finally {
      await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
    }
    const store = new InMemoryOffsetStore();
    const job = streamingJob({
      strategy: ConsumerStrategies.Assign([{ topic, partition: 0 }]),
      startingOffsets: 'earliest',
      offsetStore: store,
    });
    await job.ssc.start();
    try {
      await waitFor(() => valuesOf(job.batches).length >= 60, 30_000, 'the 60 committed records');
      // The log ends in a commit marker: the stream's ranges must reach past it, to the log end.
      await waitFor(
        async () => (await new InMemoryOffsetStore(store).load(job.group, [{ topic, partition: 0 }])).get(`${topic}:0`) === 105,
        30_000,
        'offsets at the log end (105)',
      );
    } finally {
      await job.ssc.stop({ graceful: true });
    }
    const values = valuesOf(job.batches);
    expect(values).toEqual([...Array.from({ length: 20 }, (_, i) => `commit:${i}`), ...Array.from({ length: 20 }, (_, i) => `commit:${40 + i}`), ...Array.from({ length: 20 }, (_, i) => `commit:${80 + i}`)]);
    // Ranges follow each other up to the log end; offsets the markers and aborted records take are gaps.
    const ranges = job.batches.flatMap((b) => b.ranges);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i].fromOffset).toBe(ranges[i - 1].untilOffset);
    expect(ranges[ranges.length - 1].untilOffset).toBe(105);
  });

  it('hands the partitions over to librdkafka at the first lz4 batch and delivers every record once, in order', async () => {
    const topic = uniqueName('wire-lz4');
    await createTopic(topic, 2);
    // Uncompressed first, so the own fetcher delivers some before the hand-over.
    await produce(topic, [0, 1], 100);
    await produce(topic, [0, 1], 100, 100, { 'compression.codec': 'lz4' });
    const job = await readAll(topic, [0, 1], 400);
    const values = valuesOf(job.batches);
    expect(values).toHaveLength(400);
    for (const partition of [0, 1]) expect(byPartition(job.batches).get(partition)).toEqual(expectedValues(partition, 200));
    expectTiling(job.batches);
  });

  it("fetches with librdkafka when fetchEngine is 'librdkafka'", async () => {
    const topic = uniqueName('rdkafka-fetch');
    await createTopic(topic, 2);
    await produce(topic, [0, 1], 150);
    const job = await readAll(topic, [0, 1], 300, { fetchEngine: 'librdkafka' });
    for (const partition of [0, 1]) expect(byPartition(job.batches).get(partition)).toEqual(expectedValues(partition, 150));
    expectTiling(job.batches);
  });
});
