import { KafkaError } from '../errors';
import { OffsetRange } from '../offsets/OffsetRange';
import { ManualClock } from '../testing/ManualClock';
import { silentLogger } from '../util/Logger';
import type { ConsumeResult, FetchedRecord, KafkaConsumerClient } from './KafkaClient';
import { pollBatchSizeFor, readAheadBytesFor } from './fetchSizing';
import { PartitionFetcher } from './PartitionFetcher';

/** A consumer whose log never grows: every `consume` returns nothing after a turn of the event loop. */
function emptyConsumer(failures: Error[] = []): KafkaConsumerClient & { consumes: number } {
  const client = {
    consumes: 0,
    async consume(): Promise<ConsumeResult<FetchedRecord>> {
      client.consumes++;
      await new Promise((resolve) => setImmediate(resolve));
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      return { messages: [], sizes: [], endsReached: [] };
    },
    pause: () => undefined,
    resume: () => undefined,
    seek: async () => undefined,
  };
  return client as unknown as KafkaConsumerClient & { consumes: number };
}

/**
 * A consumer over a log of `ends[p]` records per partition of topic `t`: each `consume` returns
 * up to `perConsume` records of each partition it is not paused on, from its position, and the
 * log end once a partition reached it.
 */
function logConsumer(
  ends: number[],
  perConsume: number,
): KafkaConsumerClient & { consumes: number; seeks: string[]; positions: Map<number, number>; paused: Set<number> } {
  const positions = new Map<number, number>();
  const paused = new Set<number>();
  const client = {
    consumes: 0,
    seeks: [] as string[],
    positions,
    paused,
    async consume(): Promise<ConsumeResult<FetchedRecord>> {
      client.consumes++;
      await new Promise((resolve) => setImmediate(resolve));
      const messages: FetchedRecord[] = [];
      const endsReached: { topic: string; partition: number; offset: number }[] = [];
      ends.forEach((end, partition) => {
        if (paused.has(partition)) return;
        const from = positions.get(partition) ?? 0;
        const until = Math.min(end, from + perConsume);
        for (let offset = from; offset < until; offset++) messages.push({ topic: 't', partition, offset });
        positions.set(partition, until);
        if (until === end) endsReached.push({ topic: 't', partition, offset: end });
      });
      return { messages, sizes: messages.map(() => 100), endsReached };
    },
    pause: (partitions: { partition: number }[]) => partitions.forEach((p) => paused.add(p.partition)),
    resume: (partitions: { partition: number }[]) => partitions.forEach((p) => paused.delete(p.partition)),
    seek: async ({ partition, offset }: { partition: number; offset: number }) => {
      client.seeks.push(`${partition}@${offset}`);
      positions.set(partition, offset);
    },
  };
  return client as unknown as KafkaConsumerClient & { consumes: number; seeks: string[]; positions: Map<number, number>; paused: Set<number> };
}

function fetcherOn(client: KafkaConsumerClient, clock: ManualClock, maxReadAheadBytes = 2 ** 20): PartitionFetcher<FetchedRecord> {
  return new PartitionFetcher(client, {
    build: (topic, partition, offset) => ({ topic, partition, offset }),
    maxReadAheadBytes,
    fetchTimeoutMs: 5000,
    logger: silentLogger,
    clock,
  });
}

describe('PartitionFetcher', () => {
  it('times a take out after fetchTimeoutMs on the injected clock, not on wall-clock time', async () => {
    const clock = new ManualClock(0);
    const fetcher = fetcherOn(emptyConsumer(), clock);
    fetcher.add([{ topic: 't', partition: 0, offset: 0 }]);
    fetcher.start();
    let outcome: unknown;
    const taken = fetcher.take(OffsetRange.create('t', 0, 0, 10)).then(
      (records) => (outcome = records),
      (error: unknown) => (outcome = error),
    );
    await clock.advance(4999);
    expect(outcome).toBeUndefined();
    await clock.advance(1);
    await taken;
    expect(outcome).toBeInstanceOf(KafkaError);
    expect((outcome as KafkaError).retriable).toBe(true);
    expect((outcome as KafkaError).message).toMatch(/timed out after 5000 ms fetching t-0 \[0, 10\): read up to offset 0/);
    await fetcher.stop();
  });

  it('streams ranges chunk by chunk as they arrive, each partition in offset order, and keeps what lies beyond them', async () => {
    const clock = new ManualClock(0);
    const client = logConsumer([10, 7], 3);
    const fetcher = fetcherOn(client, clock);
    fetcher.add([
      { topic: 't', partition: 0, offset: 0 },
      { topic: 't', partition: 1, offset: 0 },
    ]);
    fetcher.start();
    const chunks: string[] = [];
    await fetcher.stream([OffsetRange.create('t', 0, 0, 8), OffsetRange.create('t', 1, 0, 7)], (range, records) => {
      chunks.push(`${range.partition}:${records.map((record) => record.offset).join(',')}`);
    });
    // No chunk holds a whole range: each is what one consume brought.
    expect(chunks.every((chunk) => chunk.split(',').length <= 3)).toBe(true);
    const offsetsOf = (partition: number): number[] =>
      chunks.filter((chunk) => chunk.startsWith(`${partition}:`)).flatMap((chunk) => chunk.slice(2).split(',').map(Number));
    expect(offsetsOf(0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(offsetsOf(1)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // The rest of partition 0 was read ahead for the next batch: no seek, nothing read twice.
    expect((await fetcher.take(OffsetRange.create('t', 0, 8, 10)))?.map((record) => record.offset)).toEqual([8, 9]);
    expect(client.seeks).toEqual([]);
    await fetcher.stop();
  });

  it('makes no record before a batch needs it when the read-ahead budget is 0, and reads on once one does', async () => {
    const turns = async (count: number): Promise<void> => {
      for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
    };
    const clock = new ManualClock(0);
    // With a budget, the loop reads the whole log ahead of the batches.
    const budgeted = logConsumer([100], 10);
    const ahead = fetcherOn(budgeted, clock);
    ahead.add([{ topic: 't', partition: 0, offset: 0 }]);
    ahead.start();
    await turns(40);
    expect(budgeted.positions.get(0)).toBe(100);
    await ahead.stop();
    // With none, it stops at what one consume brought, pausing the partition in the client.
    const client = logConsumer([100], 10);
    const fetcher = fetcherOn(client, clock, 0);
    fetcher.add([{ topic: 't', partition: 0, offset: 0 }]);
    fetcher.start();
    await turns(40);
    expect(client.positions.get(0)).toBe(10);
    expect(client.paused.has(0)).toBe(true);
    const chunks: number[] = [];
    await fetcher.stream([OffsetRange.create('t', 0, 0, 45)], (_range, records) => chunks.push(records.length));
    expect(chunks.reduce((sum, length) => sum + length, 0)).toBe(45);
    await turns(40);
    // Past the batch, again no more than one consume's worth.
    expect(client.positions.get(0)).toBe(50);
    expect((await fetcher.take(OffsetRange.create('t', 0, 45, 60)))?.map((record) => record.offset)).toEqual(
      Array.from({ length: 15 }, (_, index) => 45 + index),
    );
    await fetcher.stop();
  });

  it('seeks a streamed range that starts elsewhere, and stops streaming a partition no longer wanted or removed', async () => {
    const clock = new ManualClock(0);
    const client = logConsumer([100, 100, 100], 2);
    const fetcher = fetcherOn(client, clock);
    fetcher.add([0, 1, 2].map((partition) => ({ topic: 't', partition, offset: 0 })));
    fetcher.start();
    const seen = new Map<number, number[]>();
    let isPartition1Wanted = true;
    await fetcher.stream(
      [OffsetRange.create('t', 0, 50, 60), OffsetRange.create('t', 1, 0, 100), OffsetRange.create('t', 2, 0, 100)],
      (range, records) => {
        const offsets = seen.get(range.partition) ?? [];
        offsets.push(...records.map((record) => record.offset));
        seen.set(range.partition, offsets);
        if (offsets.length >= 4) {
          if (range.partition === 1) isPartition1Wanted = false;
          if (range.partition === 2) fetcher.remove([{ topic: 't', partition: 2 }]);
        }
      },
      (range) => range.partition !== 1 || isPartition1Wanted,
    );
    expect(client.seeks).toContain('0@50');
    expect(seen.get(0)).toEqual([50, 51, 52, 53, 54, 55, 56, 57, 58, 59]);
    expect(seen.get(1)).toEqual([0, 1, 2, 3]);
    expect(seen.get(2)).toEqual([0, 1, 2, 3]);
    await fetcher.stop();
  });

  it('times a stream out after fetchTimeoutMs without a record, however long it ran before', async () => {
    const clock = new ManualClock(0);
    // Offset 0 is there at once, offsets 1 to 3 once the clock reached 4 s, then nothing.
    const client = logConsumer([4], 1);
    const consume = client.consume.bind(client);
    client.consume = async (...args) => {
      const result = await consume(...args);
      if (clock.nowMs() >= 4000 || result.messages.every((record) => record.offset === 0)) return result;
      await client.seek({ topic: 't', partition: 0, offset: result.messages[0].offset }, 0);
      client.seeks.pop();
      return { messages: [], sizes: [], endsReached: [] };
    };
    const fetcher = fetcherOn(client, clock);
    fetcher.add([{ topic: 't', partition: 0, offset: 0 }]);
    fetcher.start();
    let outcome: unknown;
    const streamed = fetcher.stream([OffsetRange.create('t', 0, 0, 10)], () => undefined).then(
      () => (outcome = 'done'),
      (error: unknown) => (outcome = error),
    );
    for (let turn = 0; turn < 40; turn++) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(4000);
    for (let turn = 0; turn < 40; turn++) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(4999);
    expect(outcome).toBeUndefined();
    await clock.advance(1);
    await streamed;
    expect(outcome).toBeInstanceOf(KafkaError);
    expect((outcome as KafkaError).message).toMatch(/timed out after 5000 ms without a record of t-0 \[0, 10\): t-0 \[0, 10\) read up to offset 4/);
    await fetcher.stop();
  });

  it('paces consume retries after a transient failure on the clock, and stop ends the pause', async () => {
    const clock = new ManualClock(0);
    const client = emptyConsumer([new KafkaError('broker restarting', { retriable: true })]);
    const fetcher = fetcherOn(client, clock);
    fetcher.start();
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    // The loop waits out pollTimeoutMs (100 ms) of clock time before consuming again.
    expect(client.consumes).toBe(1);
    await clock.advance(100);
    expect(client.consumes).toBeGreaterThan(1);
    await fetcher.stop();
  });

  it('stops while the consume loop pauses after a failure, without the clock moving', async () => {
    const clock = new ManualClock(0);
    const fetcher = fetcherOn(emptyConsumer([new KafkaError('broker restarting', { retriable: true })]), clock);
    fetcher.start();
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    await fetcher.stop();
    expect(clock.waiterCount).toBe(0);
  });
});

describe('readAheadBytesFor', () => {
  it('keeps maxBatchBytes ahead through librdkafka and nothing over the wire, whose queue holds the raw responses', () => {
    expect(readAheadBytesFor(32 * 2 ** 20)).toBe(32 * 2 ** 20);
    expect(readAheadBytesFor(32 * 2 ** 20, true)).toBe(0);
  });
});

describe('pollBatchSizeFor', () => {
  it('asks for 10 records per millisecond of the batch interval, between 1 000 and 10 000, and at most 2 000 from the wire fetcher', () => {
    expect(pollBatchSizeFor(10)).toBe(1_000);
    expect(pollBatchSizeFor(100)).toBe(1_000);
    expect(pollBatchSizeFor(250)).toBe(2_500);
    expect(pollBatchSizeFor(1_000)).toBe(10_000);
    expect(pollBatchSizeFor(60_000)).toBe(10_000);
    // The wire fetcher's records come in chunks of at most 2 000.
    expect(pollBatchSizeFor(100, true)).toBe(1_000);
    expect(pollBatchSizeFor(1_000, true)).toBe(2_000);
  });
});
