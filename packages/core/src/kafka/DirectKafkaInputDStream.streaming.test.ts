import { ConsumerStrategies } from './ConsumerStrategies';
import { DirectKafkaInputDStream } from './DirectKafkaInputDStream';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { FakeKafka, fetchedToEnd, runBatch, runJob, setUp, stored, turns, twoPartitions, until } from './directStreamTestKit';

type Input = DirectKafkaInputDStream<string | null, string | null>;

/** Runs batch `time` with its records streamed to the output; returns the chunks, as `partition: values`. */
async function runStreamedBatch(input: Input, time: number, during?: () => Promise<void>): Promise<string[]> {
  await input.generate(time);
  const chunks: string[] = [];
  await input.runBatch(time, async () => {
    const streaming = input.streamBatch(time, (records, partition) => {
      chunks.push(`${partition}: ${records.map((record) => record.value).join(' ')}`);
    });
    await during?.();
    await streaming;
  });
  return chunks;
}

describe('DirectKafkaInputDStream streaming its batches', () => {
  let input: Input | undefined;
  afterEach(async () => {
    await input?.stop();
    input = undefined;
  });

  it('hands each partition over in the chunks the consumer brought, none kept, and commits the ranges', async () => {
    const kafka = twoPartitions(5);
    kafka.maxPerConsume = 2;
    const setup = setUp(kafka);
    input = setup.input;
    input.isStreamed = true;
    const compute = jest.spyOn(input, 'compute');
    await input.start();
    const chunks = await runStreamedBatch(input, 1000);
    expect(compute).not.toHaveBeenCalled();
    expect(chunks.length).toBeGreaterThan(2);
    const valuesOf = (partition: string): string[] =>
      chunks.filter((chunk) => chunk.startsWith(`${partition}: `)).flatMap((chunk) => chunk.slice(partition.length + 2).split(' '));
    expect(valuesOf('t:0')).toEqual(['0:0', '0:1', '0:2', '0:3', '0:4']);
    expect(valuesOf('t:1')).toEqual(['1:0', '1:1', '1:2', '1:3', '1:4']);
    expect(input.recordCount(1000)).toBe(10);
    expect(await stored(setup.store, 0, 1)).toEqual([5, 5]);
  });

  it('drops a partition revoked before any of its records streamed, under the eager protocol too', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), revokeTimeoutMs: 60_000 });
    input = setup.input;
    input.isStreamed = true;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    // Nothing of partition 0 was fetched before librdkafka paused it for the revoke.
    kafka.paused.add('t:0');
    await until(() => kafka.cached.get('t:1')?.high === 3);
    kafka.cached.set('t:0', { low: 0, high: 3 });
    const chunks = await runStreamedBatch(input, 1000, async () => {
      await turns(5);
      kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    });
    expect(chunks).toEqual(['t:1: 1:0 1:1 1:2']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-1 [0, 3)']);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, 3]);
    await until(() => kafka.calls.includes('unassign'));
  });

  it.each(['at-most-once', 'exactly-once'] as const)('under %s declines to stream: its batches are read whole before their commit', async (delivery) => {
    const kafka = twoPartitions(5);
    kafka.maxPerConsume = 2;
    const setup = setUp(kafka, { delivery });
    input = setup.input;
    input.isStreamed = true;
    expect(input.isStreamed).toBe(false);
    await input.start();
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '0:2', '0:3', '0:4', '1:0', '1:1', '1:2', '1:3', '1:4']);
    expect(await stored(setup.store, 0, 1)).toEqual([5, 5]);
  });

  it('ends a partition revoked while its records stream where they reached, and commits that', async () => {
    const kafka = twoPartitions(3);
    kafka.protocol = 'COOPERATIVE';
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    input.isStreamed = true;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    // While a revoke waits, librdkafka delivers no records: the new ones of both partitions stay away.
    for (const partition of [0, 1]) {
      kafka.paused.add(`t:${partition}`);
      kafka.write('t', partition, 2);
      kafka.cached.set(`t:${partition}`, { low: 0, high: 5 });
    }
    const chunks = await runStreamedBatch(input, 1000, async () => {
      await turns(5);
      kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    });
    // Three records of each partition went through the output: the ranges end there and are
    // committed, so partition 0's next owner starts at 3, and nothing is read twice.
    expect(chunks).toEqual(expect.arrayContaining(['t:0: 0:0 0:1 0:2', 't:1: 1:0 1:1 1:2']));
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 3)', 't-1 [0, 3)']);
    expect(await stored(setup.store, 0, 1)).toEqual([3, 3]);
    await until(() => kafka.calls.includes('incrementalUnassign t-0'));
    // Partition 1 stays: its next batch starts where the ended range stopped, skipping nothing.
    kafka.paused.delete('t:1');
    expect(await runStreamedBatch(input, 2000)).toEqual(['t:1: 1:3 1:4']);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-1 [3, 5)']);
    expect(await stored(setup.store, 0, 1)).toEqual([3, 5]);
  });

  it('sets a record aside under the dead-letter policy and streams the batch again without it', async () => {
    let attempts = 0;
    let source: { node: { isStreamed?: boolean } } | undefined;
    const { info, store, delivered } = await runJob(
      twoPartitions(5),
      { delivery: 'at-least-once', recordErrors: { policy: 'dead-letter' } },
      (stream) => {
        const words = stream.map((record) => {
          if (record.value === '0:2') {
            attempts++;
            throw new Error('cannot parse 0:2');
          }
          return [record.value!, 1] as const;
        });
        source = stream;
        return words.reduceByKey((a, b) => a + b);
      },
    );
    expect(source?.node.isStreamed).toBe(true);
    expect(info.failure).toBeUndefined();
    expect(info).toMatchObject({ numDeadLetters: 1, numRecords: 9 });
    expect(attempts).toBe(3);
    expect(new Map(delivered as [string, number][])).toEqual(
      new Map(['0:0', '0:1', '0:3', '0:4', '1:0', '1:1', '1:2', '1:3', '1:4'].map((value) => [value, 1])),
    );
    expect(await stored(store, 0, 1)).toEqual([5, 5]);
    expect((await new InMemoryOffsetStore(store).loadDeadLetters('g')).map((letter) => letter.value)).toEqual(['0:2']);
  });

  it('streams batches past maxBatchBytes once a batch told how fast they go (a faster one at once, a slower one smoothed), while the first after downtime keeps to it', async () => {
    input = await streamingBacklog();
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 10)', 't-1 [0, 10)']);
    // Say the batch went through 2 000 records in 1 s: the next 1 s batch may hold 2 000.
    input.onBatchCompleted(batchInfo(1000, 2000, 1000));
    await runStreamedBatch(input, 2000);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [10, 1010)', 't-1 [10, 1010)']);
    // A slower batch, 1 000 records a second, is averaged with the rate: 1 500 records.
    input.onBatchCompleted(batchInfo(2000, 1000, 1000));
    await runStreamedBatch(input, 3000);
    expect(input.offsetRanges(3000).map(String)).toEqual(['t-0 [1010, 1760)', 't-1 [1010, 1760)']);
    // A batch said to be 50 000 times faster: the next grows 4-fold, no more.
    input.onBatchCompleted(batchInfo(3000, 50_000, 1));
    await runStreamedBatch(input, 4000);
    expect(input.offsetRanges(4000).map(String)).toEqual(['t-0 [1760, 4760)', 't-1 [1760, 4760)']);
    // A faster batch within that cap is taken as the rate, not averaged: 8 000 records a second.
    input.onBatchCompleted(batchInfo(4000, 8000, 1000));
    await runStreamedBatch(input, 5000);
    expect(input.offsetRanges(5000).map(String)).toEqual(['t-0 [4760, 8760)', 't-1 [4760, 8760)']);
  });

  it('sizes a streamed batch to end when the next is due, from when the batches before it are expected to end', async () => {
    input = await streamingBacklog();
    // Batch 1000 went through 2 000 records a second (2 600 in 1 300 ms): it ends at 2 300, while
    // batch 2000 is due. Batch 2000 gets the 700 ms left until 3000: 1 400 records, not 2 000.
    input.onBatchCompleted(batchInfo(1000, 2600, 1300));
    await runStreamedBatch(input, 2000);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [10, 710)', 't-1 [10, 710)']);
    // Planned while batch 2000 still runs: that one is expected to end at 3000, so this one gets
    // a whole interval.
    await runStreamedBatch(input, 3000);
    expect(input.offsetRanges(3000).map(String)).toEqual(['t-0 [710, 1710)', 't-1 [710, 1710)']);
    // Both ran late, until 4 600: batch 4000 is expected to start 600 ms late and gets half an
    // interval, no less.
    input.onBatchCompleted(batchInfo(2000, 1400, 1000, 2300));
    input.onBatchCompleted(batchInfo(3000, 2000, 1000, 3600));
    await runStreamedBatch(input, 4000);
    expect(input.offsetRanges(4000).map(String)).toEqual(['t-0 [1710, 2210)', 't-1 [1710, 2210)']);
  });
});

/**
 * A streamed input over a backlog of 10 000 records in each of two partitions, with batch 1000
 * run: 100 000 bytes + overhead per record, so its 2 MiB budget held 20 records, 10 per partition.
 */
async function streamingBacklog(): Promise<Input> {
  const kafka = new FakeKafka();
  kafka.write('t', 0, 10_000);
  kafka.write('t', 1, 10_000);
  kafka.recordBytes = 100_000;
  const { input } = setUp(kafka, { maxBatchBytes: 2 * 2 ** 20 });
  input.isStreamed = true;
  await input.start();
  await turns(10);
  await runStreamedBatch(input, 1000);
  return input;
}

function batchInfo(batchTimeMs: number, numRecords: number, processingDelayMs: number, processingStartTimeMs = batchTimeMs) {
  return {
    batchTimeMs,
    offsetRanges: [],
    numRecords,
    numDeadLetters: 0,
    numAttempts: 1,
    submissionTimeMs: batchTimeMs,
    processingStartTimeMs,
    processingEndTimeMs: processingStartTimeMs + processingDelayMs,
    schedulingDelayMs: processingStartTimeMs - batchTimeMs,
    processingDelayMs,
    totalDelayMs: processingDelayMs,
    failure: undefined,
  } as unknown as Parameters<Input['onBatchCompleted']>[0];
}
