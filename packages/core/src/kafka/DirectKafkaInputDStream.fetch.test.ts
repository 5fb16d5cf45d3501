import { ConsumerStrategies } from './ConsumerStrategies';
import { DirectKafkaInputDStream } from './DirectKafkaInputDStream';
import { FakeKafka, fetchedToEnd, runBatch, setUp, twoPartitions } from './directStreamTestKit';

describe('DirectKafkaInputDStream fetching', () => {
  let input: DirectKafkaInputDStream<string | null, string | null> | undefined;
  afterEach(async () => {
    await input?.stop();
    input = undefined;
  });

  it('completes a range that ends on offsets holding no record (transaction markers, compaction)', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 2);
    kafka.writeGap('t', 0);
    kafka.write('t', 1, 1);
    ({ input } = setUp(kafka));
    await input.start();
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '1:0']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 3)', 't-1 [0, 1)']);
    expect(input.recordCount(1000)).toBe(3);
  });

  it('pauses a partition whose buffer is full and resumes it once a batch drains it', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 20);
    ({ input } = setUp(kafka, {
      strategy: ConsumerStrategies.Assign([{ topic: 't', partition: 0 }]),
      maxBufferedRecordsPerPartition: 5,
      maxRatePerPartition: 8,
    }));
    await input.start();
    expect(await runBatch(input, 1000)).toHaveLength(8);
    expect(kafka.paused.has('t:0')).toBe(true);
    expect(await runBatch(input, 2000)).toEqual(Array.from({ length: 8 }, (_, i) => `0:${8 + i}`));
    expect(await runBatch(input, 3000)).toEqual(Array.from({ length: 4 }, (_, i) => `0:${16 + i}`));
  });

  it('plans from the bounds the fetches cached and asks the leader only for a partition without them', async () => {
    const kafka = twoPartitions(5);
    ({ input } = setUp(kafka));
    await input.start();
    // Let the fetch loop fetch both partitions, which caches their bounds.
    await fetchedToEnd(kafka);
    kafka.queries.length = 0;
    await input.generate(1000);
    expect(kafka.queries).toEqual([]);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 5)', 't-1 [0, 5)']);
    // Partition 1 as if never fetched: its bounds must come from the leader.
    kafka.write('t', 1, 2);
    kafka.cached.delete('t:1');
    await input.generate(2000);
    expect(kafka.queries).toEqual(['t-1']);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [5, 5)', 't-1 [5, 7)']);
  });

  it('asks the leader before failing a partition whose next offset lies outside its cached bounds', async () => {
    const kafka = twoPartitions(5);
    ({ input } = setUp(kafka));
    await input.start();
    await fetchedToEnd(kafka);
    await input.generate(1000);
    // A cache older than what planning already saw (a fetch answered before the last query).
    kafka.write('t', 0, 3);
    kafka.cached.set('t:0', { low: 0, high: 2 });
    kafka.queries.length = 0;
    await input.generate(2000);
    expect(kafka.queries).toEqual(['t-0']);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [5, 8)', 't-1 [5, 5)']);
  });

  it('fetches with large fetches and a prefetch queue bounded by the batch budget unless the kafkaParams say otherwise', async () => {
    const kafka = twoPartitions();
    ({ input } = setUp(kafka, { maxBatchBytes: 64 * 2 ** 20 }));
    await input.start();
    expect(kafka.config).toMatchObject({
      'fetch.wait.max.ms': 100,
      'fetch.min.bytes': 2 ** 20,
      'queued.min.messages': 1_000_000,
      'fetch.queue.backoff.ms': 50,
      // A quarter of maxBatchBytes, in KiB.
      'queued.max.messages.kbytes': 16 * 1024,
    });
    await input.stop();
    const other = twoPartitions();
    ({ input } = setUp(other, {
      kafkaParams: { 'bootstrap.servers': 'fake:9092', 'group.id': 'g', 'fetch.wait.max.ms': 500, 'queued.max.messages.kbytes': 1000 },
    }));
    await input.start();
    expect(other.config['fetch.wait.max.ms']).toBe(500);
    expect(other.config['queued.max.messages.kbytes']).toBe(1000);
    expect(other.config['fetch.min.bytes']).toBe(2 ** 20);
  });

  it('heartbeats every second, or every third of a shorter session timeout, unless the kafkaParams say otherwise', async () => {
    const cases: Array<[Record<string, number>, number]> = [
      [{}, 1000],
      [{ 'session.timeout.ms': 2400 }, 800],
      [{ 'heartbeat.interval.ms': 3000 }, 3000],
    ];
    for (const [params, heartbeatMs] of cases) {
      const kafka = twoPartitions();
      ({ input } = setUp(kafka, { kafkaParams: { 'bootstrap.servers': 'fake:9092', 'group.id': 'g', ...params } }));
      await input.start();
      expect(kafka.config['heartbeat.interval.ms']).toBe(heartbeatMs);
      await input.stop();
    }
  });

  it('cuts every batch, the first after downtime included, to maxBatchBytes of the records fetched', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 100);
    kafka.write('t', 1, 100);
    // 100 000 bytes + 200 of overhead per record: a 2 MiB budget holds 20 records, 10 per partition.
    kafka.recordBytes = 100_000;
    kafka.maxPerConsume = 4;
    ({ input } = setUp(kafka, { maxBatchBytes: 2 * 2 ** 20, fetchTimeoutMs: 2000 }));
    await input.start();
    // The fetcher reads ahead (and learns the records' size) before the first batch is planned.
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(await runBatch(input, 1000)).toHaveLength(20);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 10)', 't-1 [0, 10)']);
    expect(await runBatch(input, 2000)).toHaveLength(20);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [10, 20)', 't-1 [10, 20)']);
  });

  it('asks the client for records in calls sized to the batch interval, so a due batch never waits long for one', async () => {
    const kafka = twoPartitions(3);
    ({ input } = setUp(kafka, {}, 100));
    await input.start();
    expect(await runBatch(input, 100)).toHaveLength(6);
    expect(kafka.consumeSizes[0]).toBe(1_000);
    await input.stop();
    const other = twoPartitions(3);
    ({ input } = setUp(other, { fetchEngine: 'wire' }));
    await input.start();
    expect(await runBatch(input, 1000)).toHaveLength(6);
    // The wire fetcher's records come in chunks of at most 2 000; librdkafka's in 10 per ms.
    expect(other.consumeSizes[0]).toBe(2_000);
    await input.stop();
    const overLibrdkafka = twoPartitions(3);
    ({ input } = setUp(overLibrdkafka, { fetchEngine: 'librdkafka' }));
    await input.start();
    expect(await runBatch(input, 1000)).toHaveLength(6);
    expect(overLibrdkafka.consumeSizes[0]).toBe(10_000);
  });

  /**
   * Partition 0 of 100 records, fetched 3 a call, batches of 5: the input after batch 1000 and a
   * few turns of the fetch loop.
   */
  async function afterFirstBatch(options: Parameters<typeof setUp>[1], recordBytes?: number) {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 100);
    if (recordBytes !== undefined) kafka.recordBytes = recordBytes;
    kafka.maxPerConsume = 3;
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Assign([{ topic: 't', partition: 0 }]),
      maxRatePerPartition: 5,
      fetchTimeoutMs: 2000,
      ...options,
    });
    input = setup.input;
    await input.start();
    expect(await runBatch(input, 1000)).toHaveLength(5);
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    return { kafka, setup };
  }

  it('makes no record ahead of the batches over the wire: the partition is paused, its records wait as fetched bytes', async () => {
    const { kafka, setup } = await afterFirstBatch({ fetchEngine: 'wire' });
    // At most what the consume that finished the batch brought past it (3 a call here).
    expect(kafka.positions.get('t:0')! - 5).toBeLessThan(3);
    expect(kafka.paused.has('t:0')).toBe(true);
    await setup.clock.advance(1000);
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(kafka.positions.get('t:0')! - 5).toBeLessThan(3);
    expect(await runBatch(setup.input, 2000)).toEqual(Array.from({ length: 5 }, (_, i) => `0:${5 + i}`));
  });

  // Through librdkafka the read-ahead is all of maxBatchBytes: 1 MiB here.
  it('stops taking records from librdkafka once the records it read ahead fill their share, without pausing the partition', async () => {
    const { kafka, setup } = await afterFirstBatch({ maxBatchBytes: 2 ** 20 }, 100_000);
    // 1 MiB holds 10.46 records of 100 200 bytes: full at 11 read ahead, or one fetch (3) later.
    const readAhead = kafka.positions.get('t:0')! - 5;
    expect(readAhead).toBeGreaterThanOrEqual(11);
    expect(readAhead).toBeLessThan(11 + 3);
    // The records wait in the client's queue: a pause would make librdkafka drop what it prefetched.
    expect(kafka.paused.has('t:0')).toBe(false);
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(kafka.positions.get('t:0')! - 5).toBe(readAhead);
    // Held, the loop still polls every 100 ms for the client's callbacks, one record at a time.
    await setup.clock.advance(100);
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(kafka.positions.get('t:0')! - 5).toBe(readAhead + 1);
    expect(await runBatch(setup.input, 2000)).toEqual(Array.from({ length: 5 }, (_, i) => `0:${5 + i}`));
  });

  it('pauses a partition whose read-ahead reaches twice its share while another partition still reads a batch', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 100);
    kafka.write('t', 1, 100);
    kafka.recordBytes = 100_000;
    kafka.maxPerConsume = 4;
    ({ input } = setUp(kafka, {
      strategy: ConsumerStrategies.Assign([{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }]),
      // All of it is read ahead through librdkafka.
      maxBatchBytes: 2 ** 20,
      maxRatePerPartition: 2,
      fetchTimeoutMs: 2000,
    }));
    // Partition 0 comes first in every consume: it runs ahead while partition 1 gets what is left.
    await input.start();
    expect(await runBatch(input, 1000)).toHaveLength(4);
    for (let turn = 0; turn < 40; turn++) await new Promise((resolve) => setImmediate(resolve));
    // Each share (512 KiB) holds 5.2 records: partition 0 is paused at 11 read ahead (twice that).
    expect(kafka.paused.has('t:0')).toBe(true);
    expect(kafka.positions.get('t:0')! - 2).toBeGreaterThanOrEqual(11);
    expect(await runBatch(input, 2000)).toEqual(['0:2', '0:3', '1:2', '1:3']);
  });

  it('completes a batch holding more records of a partition than maxBufferedRecordsPerPartition', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 25);
    kafka.maxPerConsume = 3;
    ({ input } = setUp(kafka, {
      strategy: ConsumerStrategies.Assign([{ topic: 't', partition: 0 }]),
      maxBufferedRecordsPerPartition: 5,
      // Without the fix the batch waits for records of a paused partition: fail fast rather than in 2 minutes.
      fetchTimeoutMs: 2000,
    }));
    await input.start();
    expect(await runBatch(input, 1000)).toEqual(Array.from({ length: 25 }, (_, i) => `0:${i}`));
  });

  it('bounds only the records read ahead of the batch being taken by maxBufferedRecordsPerPartition', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 100);
    kafka.maxPerConsume = 3;
    ({ input } = setUp(kafka, {
      strategy: ConsumerStrategies.Assign([{ topic: 't', partition: 0 }]),
      maxBufferedRecordsPerPartition: 5,
      maxRatePerPartition: 20,
      fetchTimeoutMs: 2000,
    }));
    await input.start();
    expect(await runBatch(input, 1000)).toHaveLength(20);
    // Let the fetch loop run on until the read-ahead limit pauses the partition.
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(kafka.paused.has('t:0')).toBe(true);
    // The loop pauses after the consume that reached the limit, so it may overshoot by one fetch.
    const readAhead = kafka.positions.get('t:0')! - 20;
    expect(readAhead).toBeGreaterThanOrEqual(5);
    expect(readAhead).toBeLessThan(5 + 3);
    expect(await runBatch(input, 2000)).toEqual(Array.from({ length: 20 }, (_, i) => `0:${20 + i}`));
  });

  it('wraps a failing deserializer in a RecordProcessingError naming the record', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 1);
    ({ input } = setUp(kafka, {
      strategy: ConsumerStrategies.Assign([{ topic: 't', partition: 0 }]),
      valueDeserializer: 'json',
    }));
    await input.start();
    await input.generate(1000);
    await expect(input.compute(1000)).rejects.toThrow(/valueDeserializer threw at t-0 offset 0/);
  });
});
