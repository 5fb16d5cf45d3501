// WireFetcher against a loopback broker (fakeBrokerTestKit): real, short I/O, so every wait polls
// a condition under a deadline instead of sleeping for a guessed time.
import { KafkaError } from '../../errors';
import { topicPartitionKey } from '../../offsets/OffsetRange';
import type { FetchedRecord, RecordBuilder, TopicPartitionOffset } from '../kafkaCapabilities';
import { FakeBroker } from './fakeBrokerTestKit';
import { encodeRecordBatch } from './recordBatchTestKit';
import { WireFetcher, type WireFetcherOptions } from './WireFetcher';

interface TestRecord extends FetchedRecord {
  readonly key: string | null;
  readonly value: string | null;
  readonly timestamp: number;
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: string }>;
}

const build: RecordBuilder<TestRecord> = (topic, partition, offset, key, value, timestamp, headers) => ({
  topic,
  partition,
  offset,
  key: key === null ? null : key.toString(),
  value: value === null ? null : value.toString(),
  timestamp,
  headers: headers.map((header) => ({ key: header.key, value: header.value.toString() })),
});

interface Consumed {
  readonly messages: TestRecord[];
  readonly sizes: number[];
  readonly ends: TopicPartitionOffset[];
}

const T0 = 1_700_000_000_000;
const DEADLINE_MS = 5_000;
const P0 = { topic: 'orders', partition: 0 };
const P1 = { topic: 'orders', partition: 1 };

jest.setTimeout(20_000);

let broker: FakeBroker;
let fetcher: WireFetcher | undefined;
let lookUps: string[][];

beforeEach(async () => {
  broker = await FakeBroker.start();
  lookUps = [];
});

afterEach(async () => {
  fetcher?.close();
  fetcher = undefined;
  await broker.close();
});

/** A fetcher whose every partition of every topic is led by broker 1, the fake broker. */
function startFetcher(overrides: Partial<WireFetcherOptions> = {}): WireFetcher {
  fetcher = new WireFetcher({
    lookUpLeaders: async (topics) => {
      lookUps.push([...topics]);
      return {
        brokers: new Map([[1, { host: '127.0.0.1', port: broker.port }]]),
        leaders: new Map(topics.flatMap((topic) => [0, 1, 2].map((p): [string, number] => [topicPartitionKey(topic, p), 1]))),
      };
    },
    onUnsupported: jest.fn(),
    clientId: 'test',
    isReadCommitted: true,
    maxWaitMs: 20,
    minBytes: 1,
    maxBytes: 1_048_576,
    partitionMaxBytes: 65_536,
    queueBytes: 1_048_576,
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 2_000,
    ...overrides,
  });
  return fetcher;
}

/**
 * Appends records [from, from + count) in batches of `perBatch`: key `k<offset>`, value
 * `<topic>-<partition>@<offset><pad>`, time T0 + offset. Returns the bytes of the batches.
 */
function appendRecords(topic: string, partition: number, from: number, count: number, perBatch = count, pad = ''): number {
  let bytes = 0;
  for (let base = from; base < from + count; base += perBatch) {
    const size = Math.min(perBatch, from + count - base);
    const records = Array.from({ length: size }, (_, i) => ({
      key: `k${base + i}`,
      value: `${topic}-${partition}@${base + i}${pad}`,
      timestampDelta: i,
    }));
    const batch = encodeRecordBatch({ baseOffset: base, baseTimestamp: T0 + base, records });
    broker.append(topic, partition, batch);
    bytes += batch.length;
  }
  return bytes;
}

/** Calls `consume` (20 ms waits) until `isDone` holds, adding to `into`; fails after DEADLINE_MS. */
async function consumeUntil(isDone: (consumed: Consumed) => boolean, maxMessages = 1_000, into?: Consumed): Promise<Consumed> {
  const consumed = into ?? { messages: [], sizes: [], ends: [] };
  const deadline = Date.now() + DEADLINE_MS;
  while (!isDone(consumed)) {
    if (Date.now() > deadline) {
      const offsets = consumed.messages.map((m) => `${m.partition}@${m.offset}`).join(' ');
      throw new Error(`not done within ${DEADLINE_MS} ms; consumed [${offsets}], ends ${JSON.stringify(consumed.ends)}`);
    }
    const result = await fetcher!.consume(maxMessages, 20, build);
    consumed.messages.push(...result.messages);
    consumed.sizes.push(...Array.from(result.sizes));
    consumed.ends.push(...result.endsReached);
  }
  return consumed;
}

/** Consumes for `durationMs`: what arrives while nothing should. */
function consumeFor(durationMs: number): Promise<Consumed> {
  const until = Date.now() + durationMs;
  return consumeUntil(() => Date.now() >= until);
}

/** Consumes while the fetcher sends `count` more Fetch requests. */
function consumeForFetches(count: number): Promise<Consumed> {
  const target = broker.fetches.length + count;
  return consumeUntil(() => broker.fetches.length >= target);
}

/** Polls `condition` every 5 ms; fails naming `what` after DEADLINE_MS. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${DEADLINE_MS} ms`);
    await delay(5);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function offsetsOf(consumed: Consumed, partition: number): number[] {
  return consumed.messages.filter((m) => m.partition === partition).map((m) => m.offset);
}

function range(from: number, until: number): number[] {
  return Array.from({ length: until - from }, (_, i) => from + i);
}

/** Waits until `consume` throws, and returns what it threw. */
async function consumeUntilThrown(): Promise<unknown> {
  try {
    await consumeUntil(() => false);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('WireFetcher', () => {
  it('delivers the records of two partitions in offset order per partition, built by the builder, with their sizes, and advances the positions', async () => {
    appendRecords('orders', 0, 0, 6, 3);
    appendRecords('orders', 1, 0, 4, 2);
    broker.append('orders', 1, encodeRecordBatch({ baseOffset: 4, baseTimestamp: T0, records: [{ key: null, value: 'no key', headers: [{ key: 'h', value: 'v' }] }] }));
    const f = startFetcher();
    f.assign([{ ...P0, offset: 0 }, { ...P1, offset: 0 }]);
    expect(f.position([P0, P1])).toEqual([{ ...P0, offset: 0 }, { ...P1, offset: 0 }]);

    const consumed = await consumeUntil((c) => c.messages.length >= 11);

    expect(offsetsOf(consumed, 0)).toEqual(range(0, 6));
    expect(offsetsOf(consumed, 1)).toEqual(range(0, 5));
    const at = (partition: number, offset: number) => consumed.messages.findIndex((m) => m.partition === partition && m.offset === offset);
    expect(consumed.messages[at(0, 4)]).toEqual({ ...P0, offset: 4, key: 'k4', value: 'orders-0@4', timestamp: T0 + 4, headers: [] });
    expect(consumed.messages[at(1, 4)]).toEqual({ ...P1, offset: 4, key: null, value: 'no key', timestamp: T0, headers: [{ key: 'h', value: 'v' }] });
    expect(consumed.sizes).toHaveLength(11);
    expect(consumed.sizes[at(0, 4)]).toBe(2 + 10);
    expect(consumed.sizes[at(1, 4)]).toBe(6);
    expect(consumed.sizes[at(1, 3)]).toBe(2 + 10);
    expect(f.position([P0, P1, { topic: 'orders', partition: 2 }])).toEqual([
      { ...P0, offset: 6 },
      { ...P1, offset: 5 },
      { topic: 'orders', partition: 2, offset: -1001 },
    ]);
  });

  it('hands out at most maxMessages records in one consume and the rest on the next', async () => {
    appendRecords('orders', 0, 0, 10);
    const f = startFetcher();
    f.assign([{ ...P0, offset: 0 }]);
    // The loop asks from offset 10 only after it filed the records below it.
    await waitFor(() => broker.fetchesOf('orders', 0).some((p) => p.fetchOffset === 10), 'the records fetched');

    const first = await f.consume(4, 1_000, build);
    expect(first.messages.map((m) => m.offset)).toEqual([0, 1, 2, 3]);
    expect(first.sizes).toHaveLength(4);
    expect(first.endsReached).toEqual([]);
    expect(f.position([P0])).toEqual([{ ...P0, offset: 4 }]);
    expect((await f.consume(4, 1_000, build)).messages.map((m) => m.offset)).toEqual([4, 5, 6, 7]);
    const last = await f.consume(4, 1_000, build);
    expect(last.messages.map((m) => m.offset)).toEqual([8, 9]);
    expect(last.endsReached).toEqual([{ ...P0, offset: 10 }]);
  });

  it('reports a partition at its log end once, not again while nothing arrives, and again after new records were read', async () => {
    appendRecords('orders', 0, 0, 5);
    startFetcher().assign([{ ...P0, offset: 0 }]);

    const first = await consumeUntil((c) => c.ends.length > 0);
    expect(offsetsOf(first, 0)).toEqual(range(0, 5));
    expect(first.ends).toEqual([{ ...P0, offset: 5 }]);

    const quiet = await consumeForFetches(5);
    expect(quiet.messages).toEqual([]);
    expect(quiet.ends).toEqual([]);

    appendRecords('orders', 0, 5, 3);
    const second = await consumeUntil((c) => c.ends.length > 0);
    expect(offsetsOf(second, 0)).toEqual([5, 6, 7]);
    expect(second.ends).toEqual([{ ...P0, offset: 8 }]);
  });

  it('delivers nothing of a paused partition but fetches it on within its share, keeping its log bounds fresh, and delivers it after resume', async () => {
    appendRecords('orders', 0, 0, 3);
    appendRecords('orders', 1, 0, 3);
    const f = startFetcher();
    f.assign([{ ...P0, offset: 0 }, { ...P1, offset: 0 }]);
    await waitFor(() => broker.fetchesOf('orders', 1).some((p) => p.fetchOffset === 3), 'partition 1 fetched');

    f.pause([P1]);
    appendRecords('orders', 0, 3, 3);
    appendRecords('orders', 1, 3, 3);
    const whilePaused = await consumeUntil((c) => offsetsOf(c, 0).length >= 6 && f.cachedWatermarkOffsets(P1)?.high === 6);
    expect(offsetsOf(whilePaused, 0)).toEqual(range(0, 6));
    expect(offsetsOf(whilePaused, 1)).toEqual([]);
    // Fetched on from where it was: the records wait in the queue, nothing is asked for twice.
    await waitFor(() => broker.fetchesOf('orders', 1).some((p) => p.fetchOffset === 6), 'partition 1 fetched on from offset 6');
    expect(f.position([P1])).toEqual([{ ...P1, offset: 0 }]);
    expect(f.positions()).toEqual([
      { ...P0, offset: 6, isPaused: false },
      { ...P1, offset: 0, isPaused: true },
    ]);

    // A consume waiting for records (partition 0 has none left) gets partition 1's at its resume,
    // not at the end of its wait.
    const waiting = f.consume(1_000, 10_000, build);
    const resumedAt = Date.now();
    f.resume([P1]);
    const resumed = await waiting;
    expect(Date.now() - resumedAt).toBeLessThan(1_000);
    expect(resumed.messages.map((m) => `${m.partition}@${m.offset}`)).toEqual(range(0, 6).map((offset) => `1@${offset}`));
  });

  it('drops what was fetched at a seek and goes on from the new offset, backwards and forwards, without duplicates', async () => {
    appendRecords('orders', 0, 0, 30, 10);
    const f = startFetcher();
    f.assign([{ ...P0, offset: 0 }]);
    const before = await consumeUntil((c) => c.messages.length >= 12, 4);
    expect(offsetsOf(before, 0)).toEqual(range(0, before.messages.length));

    f.seek({ ...P0, offset: 5 });
    expect(f.position([P0])).toEqual([{ ...P0, offset: 5 }]);
    const back = await consumeUntil((c) => c.ends.length > 0);
    expect(offsetsOf(back, 0)).toEqual(range(5, 30));
    expect(back.ends).toEqual([{ ...P0, offset: 30 }]);

    f.seek({ ...P0, offset: 20 });
    const forward = await consumeUntil((c) => c.ends.length > 0);
    expect(offsetsOf(forward, 0)).toEqual(range(20, 30));
    expect((await consumeForFetches(3)).messages).toEqual([]);
  });

  it('does not deliver the answer to a fetch sent before a seek', async () => {
    const logBytes = appendRecords('orders', 0, 0, 30, 10);
    const release = broker.hold();
    const f = startFetcher();
    f.assign([{ ...P0, offset: 0 }]);
    await waitFor(() => broker.fetchesOf('orders', 0).length === 1, 'the first fetch sent');

    f.seek({ ...P0, offset: 25 });
    release();
    const consumed = await consumeUntil((c) => c.ends.length > 0);

    expect(offsetsOf(consumed, 0)).toEqual(range(25, 30));
    expect(broker.fetchesOf('orders', 0).slice(0, 2).map((p) => p.fetchOffset)).toEqual([0, 25]);
    // The held answer was written, with every batch from offset 0 (the next one holds only the last batch): the fetcher had it and dropped it.
    expect(broker.bytesSent('orders', 0)).toBeGreaterThan(logBytes);
  });

  it('reports the log start and the last stable offset of the last fetch as the cached watermarks under read_committed', async () => {
    broker.set('orders', 0, { logStartOffset: 2 });
    appendRecords('orders', 0, 2, 10, 2);
    broker.set('orders', 0, { lastStableOffset: 8 });
    const f = startFetcher();
    f.assign([{ ...P0, offset: 2 }]);
    expect(f.cachedWatermarkOffsets(P0)).toBeUndefined();

    const first = await consumeUntil((c) => c.ends.length > 0);
    expect(offsetsOf(first, 0)).toEqual(range(2, 8));
    expect(first.ends).toEqual([{ ...P0, offset: 8 }]);
    expect(f.cachedWatermarkOffsets(P0)).toEqual({ low: 2, high: 8 });

    broker.set('orders', 0, { lastStableOffset: undefined });
    const second = await consumeUntil((c) => c.ends.length > 0);
    expect(offsetsOf(second, 0)).toEqual(range(8, 12));
    expect(f.cachedWatermarkOffsets(P0)).toEqual({ low: 2, high: 12 });
  });

  it('stops fetching while its queue is full and nothing is consumed, and goes on as records are consumed', async () => {
    const queueBytes = 10_240;
    const partitionMaxBytes = 4_096;
    appendRecords('orders', 0, 0, 1_000, 10, 'x'.repeat(90));
    const f = startFetcher({ queueBytes, partitionMaxBytes });
    f.assign([{ ...P0, offset: 0 }]);
    await waitFor(() => broker.bytesSent('orders', 0) >= queueBytes, 'the queue filled');

    await delay(100);
    const settledFetches = broker.fetches.length;
    await delay(200);
    expect(broker.fetches.length).toBe(settledFetches);
    expect(broker.bytesSent('orders', 0)).toBeLessThanOrEqual(queueBytes + partitionMaxBytes);

    const consumed = await consumeUntil((c) => c.messages.length >= 1_000, 50);
    expect(offsetsOf(consumed, 0)).toEqual(range(0, 1_000));
    expect(broker.fetches.length).toBeGreaterThan(settledFetches);
  });

  it("asks no more than an eighth of the queue's budget or what is left of it, and a partition no more than its share", async () => {
    for (const partition of [0, 1, 2]) appendRecords('orders', partition, 0, 3_000, 20, 'x'.repeat(200));
    // 3 partitions share 1.5 MiB: 512 KiB each, below the 1 MiB a partition may ask; a response at most 192 KiB.
    const f = startFetcher({ queueBytes: 1_572_864, partitionMaxBytes: 1_048_576, maxBytes: 52_428_800, minBytes: 1_048_576 });
    f.assign([0, 1, 2].map((partition) => ({ topic: 'orders', partition, offset: 0 })));
    await waitFor(() => broker.fetches.some((fetch) => fetch.maxBytes < 196_608), 'a fetch asking what is left of the budget');
    const [first] = broker.fetches;
    expect(first.maxBytes).toBe(196_608);
    expect(first.partitions.map((p) => p.partitionMaxBytes)).toEqual([524_288, 524_288, 524_288]);
    // The broker would hold a fetch for min_bytes it cannot send within the limits.
    expect(first.minBytes).toBe(196_608);
    // Nothing consumed: once the queue nears its budget, fetches ask only what is left of it, at least 64 KiB.
    for (const fetch of broker.fetches) {
      expect(fetch.maxBytes).toBeLessThanOrEqual(196_608);
      expect(fetch.maxBytes).toBeGreaterThanOrEqual(65_536);
    }
  });

  it('looks the leader up again after a NOT_LEADER_OR_FOLLOWER error and goes on fetching once the partition answers', async () => {
    appendRecords('orders', 0, 0, 3);
    startFetcher().assign([{ ...P0, offset: 0 }]);
    expect(offsetsOf(await consumeUntil((c) => c.messages.length >= 3), 0)).toEqual([0, 1, 2]);
    expect(lookUps).toEqual([['orders']]);

    broker.set('orders', 0, { errorCode: 6 });
    appendRecords('orders', 0, 3, 3);
    await waitFor(() => lookUps.length >= 2, 'the leader looked up again');
    broker.set('orders', 0, { errorCode: 0 });

    const after = await consumeUntil((c) => c.messages.length >= 3);
    expect(offsetsOf(after, 0)).toEqual([3, 4, 5]);
  });

  it('throws an OFFSET_OUT_OF_RANGE from consume once, as a KafkaError naming the partition and the offset', async () => {
    appendRecords('orders', 0, 0, 3);
    broker.set('orders', 0, { errorCode: 1 });
    const f = startFetcher();
    f.assign([{ ...P0, offset: 5 }]);

    const error = await consumeUntilThrown();
    expect(error).toBeInstanceOf(KafkaError);
    expect((error as KafkaError).code).toBe(1);
    expect((error as KafkaError).message).toContain('orders-0 at offset 5');
    // Not thrown again by the next consumes.
    expect((await consumeFor(300)).messages).toEqual([]);

    broker.set('orders', 0, { errorCode: 0 });
    f.seek({ ...P0, offset: 0 });
    expect(offsetsOf(await consumeUntil((c) => c.messages.length >= 3), 0)).toEqual([0, 1, 2]);
  });

  it('calls onUnsupported naming the partition and offset of an lz4 batch, and delivers nothing of that partition', async () => {
    appendRecords('orders', 0, 0, 3);
    broker.append('orders', 0, encodeRecordBatch({ baseOffset: 3, codecBits: 3, records: [{ key: null, value: 'a' }, { key: null, value: 'b' }] }));
    const onUnsupported = jest.fn();
    const f = startFetcher({ onUnsupported });
    f.assign([{ ...P0, offset: 0 }]);

    await waitFor(() => onUnsupported.mock.calls.length > 0, 'onUnsupported called');
    expect(onUnsupported.mock.calls[0][0]).toMatch(/^orders-0 holds a record batch at offset 3 .*\(lz4 compression\)$/);
    const consumed = await consumeFor(300);
    expect(consumed.messages).toEqual([]);
    expect(consumed.ends).toEqual([]);
    // Told once, and nothing fetched again: the batch would refuse the same way.
    expect(onUnsupported).toHaveBeenCalledTimes(1);
    // Another client can take over from where this one stands.
    expect(f.position([P0])).toEqual([{ ...P0, offset: 0 }]);
  });

  it('reconnects after the broker closed every connection and delivers every record exactly once, in order', async () => {
    appendRecords('orders', 0, 0, 200, 5, 'y'.repeat(50));
    appendRecords('orders', 1, 0, 200, 5, 'y'.repeat(50));
    startFetcher({ queueBytes: 4_096, partitionMaxBytes: 1_024 }).assign([{ ...P0, offset: 0 }, { ...P1, offset: 0 }]);
    const consumed: Consumed = { messages: [], sizes: [], ends: [] };
    for (let restart = 0; restart < 3; restart++) {
      // A fetch is on its way when the broker goes down: its answer is lost.
      const release = broker.hold();
      const fetchesBefore = broker.fetches.length;
      await consumeUntil(() => broker.fetches.length > fetchesBefore, 20, consumed);
      broker.dropConnections();
      release();
      const target = consumed.messages.length + 40;
      await consumeUntil((c) => c.messages.length >= target, 20, consumed);
    }
    await consumeUntil((c) => new Set(c.ends.map((end) => end.partition)).size === 2, 20, consumed);

    expect(offsetsOf(consumed, 0)).toEqual(range(0, 200));
    expect(offsetsOf(consumed, 1)).toEqual(range(0, 200));
    expect(broker.connectionCount).toBeGreaterThanOrEqual(4);
  });

  it('calls onUnsupported and sends no Fetch when the broker does not serve Fetch v11', async () => {
    await broker.close();
    broker = await FakeBroker.start({ fetchVersions: { min: 12, max: 17 } });
    appendRecords('orders', 0, 0, 3);
    const onUnsupported = jest.fn();
    startFetcher({ onUnsupported }).assign([{ ...P0, offset: 0 }]);

    await waitFor(() => onUnsupported.mock.calls.length > 0, 'onUnsupported called');
    expect(onUnsupported.mock.calls[0][0]).toBe(`broker 127.0.0.1:${broker.port} serves Fetch versions 12-17, not 11`);
    expect((await consumeFor(600)).messages).toEqual([]);
    expect(broker.fetches).toEqual([]);
    expect(onUnsupported).toHaveBeenCalledTimes(1);
  });

  it('stops fetching and delivering an incrementally unassigned partition, and assign replaces the whole assignment', async () => {
    appendRecords('orders', 0, 0, 3);
    appendRecords('orders', 1, 0, 3);
    const f = startFetcher();
    f.assign([{ ...P0, offset: 0 }, { ...P1, offset: 0 }]);
    await consumeUntil((c) => c.messages.length >= 6);

    f.incrementalUnassign([P1]);
    const unassignedAt = broker.fetches.length;
    appendRecords('orders', 0, 3, 3);
    appendRecords('orders', 1, 3, 3);
    const after = await consumeUntil((c) => offsetsOf(c, 0).length >= 3 && broker.fetches.length >= unassignedAt + 5);
    expect(offsetsOf(after, 0)).toEqual([3, 4, 5]);
    expect(offsetsOf(after, 1)).toEqual([]);
    expect(broker.fetchesOf('orders', 1, unassignedAt + 1)).toEqual([]);
    expect(f.position([P1])).toEqual([{ ...P1, offset: -1001 }]);

    appendRecords('orders', 0, 6, 3);
    f.assign([{ ...P1, offset: 2 }]);
    const assignedAt = broker.fetches.length;
    const replaced = await consumeUntil((c) => c.ends.length > 0 && broker.fetches.length >= assignedAt + 5);
    expect(offsetsOf(replaced, 1)).toEqual([2, 3, 4, 5]);
    expect(offsetsOf(replaced, 0)).toEqual([]);
    expect(replaced.ends).toEqual([{ ...P1, offset: 6 }]);
    expect(broker.fetchesOf('orders', 0, assignedAt + 1)).toEqual([]);
    expect(f.positions()).toEqual([{ ...P1, offset: 6, isPaused: false }]);
  });
});
