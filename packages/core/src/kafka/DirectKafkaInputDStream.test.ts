import type { StreamingContextLike, InputSource } from '../context/types';
import { StreamingContext } from '../context/StreamingContext';
import { ConfigError, KafkaError, OffsetOutOfRangeError, OffsetStoreError, RecordProcessingError, StaleOffsetError } from '../errors';
import type { DStream } from '../dstream/DStream';
import { StateSpec } from '../state/StateSpec';
import { waitForBatches } from '../testing/waitForBatches';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { OffsetRange, topicPartitionKey, TopicPartition } from '../offsets/OffsetRange';
import type { BatchInfo } from '../scheduler/events';
import { ManualClock } from '../testing/ManualClock';
import { StateChangeLog } from '../state/StatefulOperator';
import { stateRegistryOf } from '../state/StateRegistry';
import { silentLogger } from '../util/Logger';
import { ConsumerStrategies } from './ConsumerStrategies';
import { DirectKafkaInputDStream } from './DirectKafkaInputDStream';
import type { ConsumerRecord, DirectStreamOptions } from './DirectStreamOptions';
import type {
  ConsumeResult,
  FetchedRecord,
  KafkaConsumerClient,
  RebalanceEvent,
  RecordBuilder,
  TopicPartitionOffset,
  WatermarkOffsets,
} from './KafkaClient';
import { createDirectStreamWith } from './KafkaUtils';

/** One partition's log in the fake broker: records by offset (holes are compaction gaps), and the bounds. */
interface FakeLog {
  records: Map<number, string>;
  low: number;
  high: number;
}

/**
 * An in-memory stand-in for the librdkafka consumer: logs per partition, an assignment with
 * fetch positions, pause/seek, end-of-partition events and rebalance callbacks on demand.
 */
class FakeKafka implements KafkaConsumerClient {
  readonly brokers = 'fake:9092';
  readonly groupMetadata = { groupId: 'g' };
  readonly logs = new Map<string, FakeLog>();
  readonly positions = new Map<string, number>();
  readonly paused = new Set<string>();
  readonly seeks: TopicPartitionOffset[] = [];
  readonly calls: string[] = [];
  /** Partitions whose bounds were asked of the leader, in order. */
  readonly queries: string[] = [];
  /** The bounds each partition's last fetch reported, as librdkafka caches them. */
  readonly cached = new Map<string, WatermarkOffsets>();
  config: Readonly<Record<string, unknown>> = {};
  private onRebalance: ((event: RebalanceEvent) => void) | undefined;
  private pendingEvents: RebalanceEvent[] = [];
  failConnect = false;
  /** Records one `consume` returns at most, whatever it asks for: a broker's fetch size, in records. */
  maxPerConsume = Number.POSITIVE_INFINITY;
  /** Key and value bytes each fetched record is reported to hold; undefined: its value's length. */
  recordBytes: number | undefined;

  write(topic: string, partition: number, count: number): void {
    const log = this.log(topic, partition);
    for (let i = 0; i < count; i++) log.records.set(log.high, `${partition}:${log.high++}`);
  }

  /** Appends an offset that holds no record (a transaction marker, or a compacted-away record). */
  writeGap(topic: string, partition: number): void {
    this.log(topic, partition).high++;
  }

  log(topic: string, partition: number): FakeLog {
    const key = topicPartitionKey(topic, partition);
    let log = this.logs.get(key);
    if (!log) this.logs.set(key, (log = { records: new Map(), low: 0, high: 0 }));
    return log;
  }

  rebalance(event: RebalanceEvent): void {
    this.pendingEvents.push(event);
  }

  async connect(): Promise<void> {
    this.calls.push('connect');
    if (this.failConnect) throw new Error('unreachable');
  }
  async getMetadata() {
    const topics = new Map<string, number[]>();
    for (const key of this.logs.keys()) {
      const [topic, partition] = key.split(':');
      topics.set(topic, [...(topics.get(topic) ?? []), Number(partition)]);
    }
    return { topics: [...topics].map(([name, partitions]) => ({ name, partitions })) };
  }
  async queryWatermarkOffsets(p: TopicPartition): Promise<WatermarkOffsets> {
    this.queries.push(`${p.topic}-${p.partition}`);
    const log = this.log(p.topic, p.partition);
    return { low: log.low, high: log.high };
  }
  cachedWatermarkOffsets(p: TopicPartition): WatermarkOffsets | undefined {
    return this.cached.get(topicPartitionKey(p.topic, p.partition));
  }
  async offsetsForTimes(partitions: readonly TopicPartitionOffset[]): Promise<TopicPartitionOffset[]> {
    return partitions.map((p) => ({ ...p, offset: -1 }));
  }
  assign(partitions: readonly TopicPartitionOffset[]): void {
    this.calls.push(`assign ${partitions.map((p) => `${p.topic}-${p.partition}@${p.offset}`).join(',')}`);
    this.positions.clear();
    for (const p of partitions) this.positions.set(topicPartitionKey(p.topic, p.partition), p.offset);
  }
  unassign(): void {
    this.calls.push('unassign');
    this.positions.clear();
  }
  incrementalAssign(partitions: readonly TopicPartitionOffset[]): void {
    this.calls.push(`incrementalAssign ${partitions.map((p) => `${p.topic}-${p.partition}@${p.offset}`).join(',')}`);
    for (const p of partitions) this.positions.set(topicPartitionKey(p.topic, p.partition), p.offset);
  }
  incrementalUnassign(partitions: readonly TopicPartition[]): void {
    this.calls.push(`incrementalUnassign ${partitions.map((p) => `${p.topic}-${p.partition}`).join(',')}`);
    for (const p of partitions) this.positions.delete(topicPartitionKey(p.topic, p.partition));
  }
  /** The group protocol the fake reports: eager (every rebalance revokes all) or cooperative. */
  protocol: 'EAGER' | 'COOPERATIVE' = 'EAGER';
  rebalanceProtocol(): string {
    return this.protocol;
  }
  subscribe(topics: ReadonlyArray<string | RegExp>, onRebalance: (event: RebalanceEvent) => void): void {
    this.calls.push(`subscribe ${topics.join(',')}`);
    this.onRebalance = onRebalance;
  }
  async consume<R extends FetchedRecord>(maxMessages: number, _timeoutMs: number, build: RecordBuilder<R>): Promise<ConsumeResult<R>> {
    // A turn of the event loop, as the real client's worker thread gives, so the fetch loop never starves timers.
    await new Promise((resolve) => setImmediate(resolve));
    for (const event of this.pendingEvents.splice(0)) this.onRebalance?.(event);
    const messages: R[] = [];
    const sizes: number[] = [];
    const endsReached: TopicPartitionOffset[] = [];
    for (const [key, position] of this.positions) {
      if (this.paused.has(key)) continue;
      const [topic, partitionText] = key.split(':');
      const partition = Number(partitionText);
      const log = this.log(topic, partition);
      let offset = position;
      while (offset < log.high && messages.length < Math.min(maxMessages, this.maxPerConsume)) {
        const value = log.records.get(offset);
        if (value !== undefined) {
          messages.push(build(topic, partition, offset, null, Buffer.from(value), 0, []));
          sizes.push(this.recordBytes ?? Buffer.byteLength(value));
        }
        offset++;
      }
      this.positions.set(key, offset);
      this.cached.set(key, { low: log.low, high: log.high });
      if (offset === log.high && offset !== position) endsReached.push({ topic, partition, offset });
    }
    return { messages, sizes, endsReached };
  }
  pause(partitions: readonly TopicPartition[]): void {
    for (const p of partitions) this.paused.add(topicPartitionKey(p.topic, p.partition));
  }
  resume(partitions: readonly TopicPartition[]): void {
    for (const p of partitions) this.paused.delete(topicPartitionKey(p.topic, p.partition));
  }
  async seek(position: TopicPartitionOffset): Promise<void> {
    this.seeks.push(position);
    this.positions.set(topicPartitionKey(position.topic, position.partition), position.offset);
  }
  position(partitions: readonly TopicPartition[]): TopicPartitionOffset[] {
    return partitions.map((p) => ({ ...p, offset: this.positions.get(topicPartitionKey(p.topic, p.partition)) ?? -1001 }));
  }
  /** Offsets committed to the group, in order (mirrorOffsetsToGroup). */
  readonly groupCommits: TopicPartitionOffset[][] = [];
  failGroupCommits = false;
  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.failGroupCommits) throw new Error('not the group coordinator');
    this.groupCommits.push([...offsets]);
  }
  async committed(partitions: readonly TopicPartition[]): Promise<TopicPartitionOffset[]> {
    return partitions.map((p) => ({ ...p, offset: -1 }));
  }
  async disconnect(): Promise<void> {
    this.calls.push('disconnect');
  }
}

const BATCH_MS = 1000;

type Options = Partial<DirectStreamOptions<string | null, string | null>>;

/** A context stand-in that records what the stream registers; the tests drive the input directly. */
function setUp(kafka: FakeKafka, options: Options = {}) {
  const inputs: InputSource[] = [];
  const clock = new ManualClock(0);
  const context: StreamingContextLike & { clock: ManualClock } = {
    batchIntervalMs: BATCH_MS,
    zeroTimeMs: 0,
    clock,
    registerInput: (input) => void inputs.push(input),
    assertCanAddOperation: () => undefined,
    registerOutput: () => undefined,
    // These tests drive the input directly and never stop a context.
    awaitTermination: () => new Promise<void>(() => undefined),
  };
  const store = (options.offsetStore as InMemoryOffsetStore | undefined) ?? new InMemoryOffsetStore();
  createDirectStreamWith<string | null, string | null>(
    context,
    {
      kafkaParams: { 'bootstrap.servers': 'fake:9092', 'group.id': 'g' },
      strategy: ConsumerStrategies.Assign([
        { topic: 't', partition: 0 },
        { topic: 't', partition: 1 },
      ]),
      offsetStore: store,
      startingOffsets: 'earliest',
      valueDeserializer: 'string',
      logger: silentLogger,
      ...options,
    },
    (config) => {
      kafka.config = config;
      return kafka;
    },
  );
  const input = inputs[0] as DirectKafkaInputDStream<string | null, string | null>;
  return { input, store, clock, context };
}

/** Registers a stateful operator with `context` that counts records per value; `count` runs it on a batch. */
function countingState(context: StreamingContextLike) {
  const counts = new Map<string, number>();
  const log = new StateChangeLog();
  stateRegistryOf(context).register({
    name: 'counts',
    kind: 'mapWithState',
    stateVersion: 1,
    changesOf: (time) => log.changesOf(time),
    entries: () => counts.entries(),
    restore: (entries) => {
      counts.clear();
      for (const [key, value] of entries) counts.set(key as string, value as number);
    },
  });
  const count = (time: number, records: readonly ConsumerRecord<string | null, string | null>[]) => {
    log.begin(time);
    for (const { value } of records) {
      counts.set(String(value), (counts.get(String(value)) ?? 0) + 1);
      log.upsert(String(value), counts.get(String(value)));
    }
  };
  return { counts, count };
}

/** Generates, computes and commits batch `time`, with `output` seeing its records. */
async function runBatch(
  input: DirectKafkaInputDStream<string | null, string | null>,
  time: number,
  output: (records: readonly ConsumerRecord<string | null, string | null>[]) => void = () => undefined,
): Promise<string[]> {
  await input.generate(time);
  let values: string[] = [];
  await input.runBatch(time, async () => {
    const records = await input.compute(time);
    values = records.map((r) => String(r.value));
    output(records);
  });
  return values;
}

function stored(store: InMemoryOffsetStore, ...partitions: number[]) {
  // A new instance on the store's memory: the stream closed the one it used when it stopped.
  return new InMemoryOffsetStore(store)
    .load(
      'g',
      partitions.map((partition) => ({ topic: 't', partition })),
    )
    .then((map) => partitions.map((p) => map.get(`t:${p}`)));
}

/** Waits until the fetch loop fetched every assigned partition up to its log end, as a running consumer soon does. */
async function fetchedToEnd(kafka: FakeKafka): Promise<void> {
  const isCaughtUp = () =>
    [...kafka.positions.keys()].every((key) => {
      const [topic, partition] = key.split(':');
      return kafka.cached.get(key)?.high === kafka.log(topic, Number(partition)).high;
    });
  while (!isCaughtUp()) await new Promise((resolve) => setImmediate(resolve));
}

/** Lets `count` turns of the event loop pass (the fake's consume calls deliver rebalance events). */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Waits, turn by turn, until `condition` holds; fails after 10,000 turns. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`condition never held: ${condition}`);
}

function twoPartitions(records = 5): FakeKafka {
  const kafka = new FakeKafka();
  kafka.write('t', 0, records);
  kafka.write('t', 1, records);
  return kafka;
}

describe('DirectKafkaInputDStream', () => {
  let input: DirectKafkaInputDStream<string | null, string | null> | undefined;
  afterEach(async () => {
    await input?.stop();
    input = undefined;
  });

  it('forces auto-commit off and partition end events on in the consumer it creates', async () => {
    const kafka = twoPartitions();
    ({ input } = setUp(kafka));
    await input.start();
    expect(kafka.config).toMatchObject({
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'enable.partition.eof': true,
      'auto.offset.reset': 'error',
    });
  });

  it('plans one range per partition from the previous until to the log end, and the ranges tile the log', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka);
    input = setup.input;
    await input.start();
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '0:2', '1:0', '1:1', '1:2']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 3)', 't-1 [0, 3)']);
    kafka.write('t', 1, 2);
    await fetchedToEnd(kafka);
    expect(await runBatch(input, 2000)).toEqual(['1:3', '1:4']);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [3, 3)', 't-1 [3, 5)']);
    expect(input.recordCount(2000)).toBe(2);
    expect(await stored(setup.store, 0, 1)).toEqual([3, 5]);
  });

  it('caps each range at maxRatePerPartition times the batch interval', async () => {
    const kafka = twoPartitions(10);
    ({ input } = setUp(kafka, { maxRatePerPartition: 4 }));
    await input.start();
    await runBatch(input, 1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 4)', 't-1 [0, 4)']);
    await runBatch(input, 2000);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [4, 8)', 't-1 [4, 8)']);
  });

  it('bounds the first batch by backpressure.initialRate, split between partitions by lag', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 30);
    kafka.write('t', 1, 10);
    ({ input } = setUp(kafka, { backpressure: { enabled: true, initialRate: 8 } }));
    await input.start();
    await input.generate(1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 6)', 't-1 [0, 2)']);
  });

  it('lowers the batch size after batches report slow processing', async () => {
    const kafka = twoPartitions(100_000);
    ({ input } = setUp(kafka, { backpressure: { enabled: true, initialRate: 10_000, pid: { minRate: 10 } } }));
    await input.start();
    const info = (time: number, numRecords: number, processingDelayMs: number): BatchInfo => ({
      batchTimeMs: time,
      offsetRanges: [],
      numRecords,
      numDeadLetters: 0,
      numAttempts: 1,
      submissionTimeMs: time,
      processingStartTimeMs: time,
      processingEndTimeMs: time + processingDelayMs,
      schedulingDelayMs: 0,
      processingDelayMs,
      totalDelayMs: processingDelayMs,
      failure: undefined,
    });
    // 10,000 records took 1 s, then 10,000 took 4 s: the controller settles on 2,500 records/s.
    input.onBatchCompleted(info(1000, 10_000, 1000));
    input.onBatchCompleted(info(3000, 10_000, 4000));
    await input.generate(5000);
    const total = input.offsetRanges(5000).reduce((sum, r) => sum + r.count, 0);
    expect(total).toBe(2500);
  });

  it('starts from stored offsets ahead of explicit and starting offsets', async () => {
    const kafka = twoPartitions(5);
    const store = new InMemoryOffsetStore();
    await store.commit('g', [
      { range: OffsetRange.create('t', 0, 0, 4), expectedOffset: null },
    ]);
    ({ input } = setUp(kafka, {
      offsetStore: store,
      strategy: ConsumerStrategies.Assign(
        [
          { topic: 't', partition: 0 },
          { topic: 't', partition: 1 },
        ],
        [
          { topic: 't', partition: 0, offset: 1 },
          { topic: 't', partition: 1, offset: 2 },
        ],
      ),
      startingOffsets: 'latest',
    }));
    await input.start();
    expect(kafka.calls).toContain('assign t-0@4,t-1@2');
    expect(await runBatch(input, 1000)).toEqual(['0:4', '1:2', '1:3', '1:4']);
  });

  it("fails at start, before assigning anything, when a stored offset is outside the log and the policy is 'fail'", async () => {
    const kafka = twoPartitions(5);
    kafka.log('t', 0).low = 3;
    const store = new InMemoryOffsetStore();
    
    await store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 1), expectedOffset: null }]);
    ({ input } = setUp(kafka, { offsetStore: store }));
    await expect(input.start()).rejects.toThrow(OffsetOutOfRangeError);
    expect(kafka.calls.some((call) => call.startsWith('assign'))).toBe(false);
    expect(kafka.calls).toContain('disconnect');
  });

  it("resets an out-of-range stored offset to the log start with 'earliest' and still commits against the stored value", async () => {
    const kafka = twoPartitions(5);
    kafka.log('t', 0).low = 3;
    const store = new InMemoryOffsetStore();
    
    await store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 1), expectedOffset: null }]);
    ({ input } = setUp(kafka, { offsetStore: store, offsetOutOfRange: 'earliest' }));
    await input.start();
    expect(await runBatch(input, 1000)).toEqual(['0:3', '0:4', '1:0', '1:1', '1:2', '1:3', '1:4']);
    expect(await stored(store, 0, 1)).toEqual([5, 5]);
  });

  it('does not advance offsets when an output fails, and a recomputed batch reads the same records', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka);
    input = setup.input;
    await input.start();
    await input.generate(1000);
    await expect(
      input.runBatch(1000, async () => {
        await input!.compute(1000);
        throw new Error('sink down');
      }),
    ).rejects.toThrow('sink down');
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, undefined]);
    let again: string[] = [];
    await input.runBatch(1000, async () => {
      again = (await input!.compute(1000)).map((r) => String(r.value));
    });
    expect(again).toEqual(['0:0', '0:1', '0:2', '1:0', '1:1', '1:2']);
    expect(kafka.seeks).toEqual([
      { topic: 't', partition: 0, offset: 0 },
      { topic: 't', partition: 1, offset: 0 },
    ]);
    expect(await stored(setup.store, 0, 1)).toEqual([3, 3]);
  });

  it('mirrors each committed range to the consumer group after the store commit, and only logs a failed mirror', async () => {
    const kafka = twoPartitions(3);
    const warnings: string[] = [];
    const setup = setUp(kafka, {
      mirrorOffsetsToGroup: true,
      logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
    });
    input = setup.input;
    await input.start();
    let groupCommitsDuringOutput = -1;
    await input.generate(1000);
    await input.runBatch(1000, async () => {
      await input!.compute(1000);
      groupCommitsDuringOutput = kafka.groupCommits.length;
    });
    await until(() => kafka.groupCommits.length === 1);
    expect(groupCommitsDuringOutput).toBe(0);
    expect(kafka.groupCommits[0]).toEqual([
      { topic: 't', partition: 0, offset: 3 },
      { topic: 't', partition: 1, offset: 3 },
    ]);
    kafka.failGroupCommits = true;
    kafka.write('t', 0, 2);
    await fetchedToEnd(kafka);
    await runBatch(input, 2000);
    await until(() => warnings.some((w) => /mirroring batch 2000's offsets to consumer group g failed/.test(w)));
    // The store, not the group, is the truth: the batch committed there.
    expect(await stored(setup.store, 0, 1)).toEqual([5, 3]);
  });

  it('commits before the outputs run with at-most-once', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { delivery: 'at-most-once' });
    input = setup.input;
    await input.start();
    await input.generate(1000);
    let storedDuringOutput: unknown[] = [];
    await expect(
      input.runBatch(1000, async () => {
        storedDuringOutput = await stored(setup.store, 0, 1);
        throw new Error('lost');
      }),
    ).rejects.toThrow('lost');
    expect(storedDuringOutput).toEqual([2, 2]);
  });

  it('hands the outputs the store transaction that commits the offsets with exactly-once', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { delivery: 'exactly-once' });
    input = setup.input;
    await input.start();
    await input.generate(1000);
    await input.runBatch(1000, async (tx) => {
      (tx as { set(key: string, value: unknown): void }).set('count', (await input!.compute(1000)).length);
    });
    expect(setup.store.data.get('count')).toBe(4);
    expect(await stored(setup.store, 0, 1)).toEqual([2, 2]);
  });

  it('refuses exactly-once on a store without transactions unless the output is idempotent', () => {
    const store = Object.assign(new InMemoryOffsetStore(), { supportsTransactions: false, name: 'plain' });
    expect(() => setUp(new FakeKafka(), { delivery: 'exactly-once', offsetStore: store })).toThrow(ConfigError);
    expect(() => setUp(new FakeKafka(), { delivery: 'exactly-once', offsetStore: store, idempotentOutput: true })).not.toThrow();
  });

  it('restores the state of the context\'s stateful operators before the first batch and commits each batch\'s changes with its offsets', async () => {
    const kafka = twoPartitions(2);
    const first = setUp(kafka, { delivery: 'exactly-once' });
    const before = countingState(first.context);
    input = first.input;
    await input.start();
    await runBatch(input, 1000, (records) => before.count(1000, records));
    await input.stop();
    expect((await new InMemoryOffsetStore(first.store).loadState('g', 'counts'))?.entries).toHaveLength(4);

    kafka.write('t', 0, 1);
    const second = setUp(kafka, { delivery: 'exactly-once', offsetStore: new InMemoryOffsetStore(first.store) });
    const after = countingState(second.context);
    input = second.input;
    await input.start();
    // Restored at start, before any batch ran.
    expect([...after.counts.keys()].sort()).toEqual(['0:0', '0:1', '1:0', '1:1']);
    await fetchedToEnd(kafka);
    await runBatch(input, 2000, (records) => after.count(2000, records));
    expect(new Map((await new InMemoryOffsetStore(first.store).loadState('g', 'counts'))!.entries as [string, number][])).toEqual(
      new Map([['0:0', 1], ['0:1', 1], ['1:0', 1], ['1:1', 1], ['0:2', 1]]),
    );
  });

  it('refuses to start exactly-once with stateful operators on a store that cannot keep state, before connecting', async () => {
    const kafka = twoPartitions(1);
    const store = Object.assign(new InMemoryOffsetStore(), { supportsState: false, name: 'zookeeper' });
    const setup = setUp(kafka, { delivery: 'exactly-once', offsetStore: store });
    countingState(setup.context);
    input = setup.input;
    await expect(input.start()).rejects.toThrow(/offset store "zookeeper" cannot.*RedisOffsetStore/);
    expect(kafka.calls).not.toContain('connect');
  });

  it('retries a retriable commit failure with backoff on the context clock', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { commitRetries: 2 });
    input = setup.input;
    await input.start();
    setup.store.failNextCommits(2);
    await input.generate(1000);
    const running = input.runBatch(1000, async () => void (await input!.compute(1000)));
    await setup.clock.advance(60_000);
    await running;
    expect(await stored(setup.store, 0, 1)).toEqual([2, 2]);
  });

  it('fails the batch with an OffsetStoreError naming the store and batch once retries run out', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { commitRetries: 1 });
    input = setup.input;
    await input.start();
    setup.store.failNextCommits(5);
    await input.generate(1000);
    const running = input.runBatch(1000, async () => void (await input!.compute(1000)));
    const outcome = running.then(
      () => undefined,
      (error: unknown) => error,
    );
    await setup.clock.advance(60_000);
    const error = (await outcome) as OffsetStoreError;
    expect(error).toBeInstanceOf(OffsetStoreError);
    expect(error.store).toBe('memory');
    expect(error.batchTimeMs).toBe(1000);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, undefined]);
  });

  it('counts a commit as done when its answer was lost and the retry finds the store at the batch end', async () => {
    const kafka = twoPartitions(2);
    const store = new InMemoryOffsetStore();
    // The first commit lands but reports a retriable failure, as a timeout after the write would.
    const realCommit = store.commit.bind(store);
    let calls = 0;
    store.commit = async (group, commits) => {
      calls++;
      await realCommit(group, commits);
      if (calls === 1) throw new OffsetStoreError('memory', 'connection reset', { retriable: true });
    };
    const setup = setUp(kafka, { offsetStore: store });
    input = setup.input;
    await input.start();
    await input.generate(1000);
    const running = input.runBatch(1000, async () => void (await input!.compute(1000)));
    await setup.clock.advance(60_000);
    await running;
    expect(calls).toBe(2);
    // The next batch's compare-and-set expects the committed end.
    kafka.write('t', 0, 1);
    await fetchedToEnd(kafka);
    await runBatch(input, 2000);
    expect(await stored(store, 0, 1)).toEqual([3, 2]);
  });

  it('rejects a stale commit from another writer without retrying', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka);
    input = setup.input;
    await input.start();
    await input.generate(1000);
    
    await setup.store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 1), expectedOffset: null }]);
    const error = await input.runBatch(1000, async () => void (await input!.compute(1000))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OffsetStoreError);
    expect((error as OffsetStoreError).cause).toBeInstanceOf(StaleOffsetError);
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

  it('pauses a partition once the records it read ahead fill its share of maxBatchBytes', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 100);
    kafka.recordBytes = 100_000;
    kafka.maxPerConsume = 3;
    ({ input } = setUp(kafka, {
      strategy: ConsumerStrategies.Assign([{ topic: 't', partition: 0 }]),
      maxBatchBytes: 2 ** 20,
      maxRatePerPartition: 5,
      fetchTimeoutMs: 2000,
    }));
    await input.start();
    expect(await runBatch(input, 1000)).toHaveLength(5);
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(kafka.paused.has('t:0')).toBe(true);
    // 1 MiB holds 10.46 records of 100 200 bytes: paused at 11 read ahead, or one fetch (3) later.
    const readAhead = kafka.positions.get('t:0')! - 5;
    expect(readAhead).toBeGreaterThanOrEqual(11);
    expect(readAhead).toBeLessThan(11 + 3);
    expect(await runBatch(input, 2000)).toEqual(Array.from({ length: 5 }, (_, i) => `0:${5 + i}`));
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

  it('refuses at start to subscribe to a topic the cluster does not have, naming it and the fix', async () => {
    const kafka = twoPartitions(1);
    kafka.write('events', 0, 1);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t', 'event']) });
    input = setup.input;
    const started = input.start();
    await expect(started).rejects.toThrow(KafkaError);
    await expect(started).rejects.toThrow(
      "ConsumerStrategies.Subscribe names a topic the cluster at fake:9092 does not have: event. Create it " +
        "(e.g. kafka-topics --create --topic event --partitions 4), or check the name (did you mean 'events' for 'event'?). " +
        "To have the broker create it on subscription, set kafkaParams 'allow.auto.create.topics': true.",
    );
    expect(kafka.calls.some((call) => call.startsWith('subscribe'))).toBe(false);
  });

  it('subscribes to a missing topic when the job asked for topics to be created on subscription', async () => {
    const kafka = twoPartitions(1);
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t', 'later']),
      kafkaParams: { 'bootstrap.servers': 'fake:9092', 'group.id': 'g', 'allow.auto.create.topics': true },
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    expect(kafka.calls).toContain('subscribe t,later');
  });

  it('gives up waiting for the first assignment after connectTimeoutMs plus the session timeout on the context clock', async () => {
    const kafka = twoPartitions(1);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), connectTimeoutMs: 1000 });
    input = setup.input;
    let failure: unknown;
    const started = input.start().catch((error: unknown) => (failure = error));
    await until(() => kafka.calls.includes('subscribe t'));
    await setup.clock.advance(10_999);
    expect(failure).toBeUndefined();
    await setup.clock.advance(1);
    await started;
    expect(failure).toBeInstanceOf(KafkaError);
    expect((failure as KafkaError).message).toMatch(/^no partition assignment from group g at fake:9092 within 11000 ms/);
  });

  it('loads offsets for partitions assigned by the group and plans them from the next batch', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    expect(kafka.calls).toContain('assign t-0@0');
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '0:2']);
  });

  it('loads the state of partitions the group assigns before planning them, writes a batch state per partition, drops it on revoke', async () => {
    const kafka = twoPartitions(2);
    const store = new InMemoryOffsetStore();
    await store.commit('g', [], [{ operator: 'counts@t:0', kind: 'mapWithState', stateVersion: 1, upserts: [['0:0', 5]], removals: [] }]);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), offsetStore: store });
    input = setup.input;
    const counts = new Map<string, number>();
    const events: string[] = [];
    const log = new StateChangeLog();
    let isScoped = false;
    stateRegistryOf(setup.context).register({
      name: 'counts',
      kind: 'mapWithState',
      stateVersion: 1,
      changesOf: (time) => log.changesOf(time),
      entries: () => counts.entries(),
      restore: () => undefined,
      canScopeByPartition: true,
      scopeByPartition: () => void (isScoped = true),
      get isScoped() {
        return isScoped;
      },
      loadPartition: (partition, entries) => {
        events.push(`load ${partition} ${JSON.stringify([...entries])}`);
        for (const [key, value] of entries) counts.set(key as string, value as number);
      },
      dropPartition: (partition) => void events.push(`drop ${partition}`),
    });
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    expect(isScoped).toBe(true);
    expect(events).toEqual(['load t:0 [["0:0",5]]', 'load t:1 []']);
    await runBatch(input, 1000, (records) => {
      log.begin(1000);
      for (const { partition, value } of records) {
        counts.set(String(value), (counts.get(String(value)) ?? 0) + 1);
        log.upsert(String(value), counts.get(String(value)), `t:${partition}`);
      }
    });
    expect((await store.loadState('g', 'counts@t:0'))?.entries).toEqual([['0:0', 6], ['0:1', 1]]);
    expect((await store.loadState('g', 'counts@t:1'))?.entries).toEqual([['1:0', 1], ['1:1', 1]]);
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    await until(() => events.includes('drop t:0'));
  });

  it('lets a batch whose partitions are revoked while it runs commit them before giving them up', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await input.generate(1000);
    let callsDuringOutput: string[] = [];
    await input.runBatch(1000, async () => {
      await input!.compute(1000);
      // The group takes both partitions away, then gives back only partition 1.
      kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
      kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 1 }] });
      await turns(20);
      callsDuringOutput = [...kafka.calls];
    });
    // Nothing was given up while the batch ran; its commit covers both partitions it delivered.
    expect(callsDuringOutput).not.toContain('unassign');
    expect(await stored(setup.store, 0, 1)).toEqual([3, 3]);
    await until(() => kafka.calls.includes('assign t-1@3'));
    expect(kafka.calls.slice(-2)).toEqual(['unassign', 'assign t-1@3']);
    // Partition 1 goes on from what the store holds; partition 0 is gone.
    kafka.write('t', 1, 2);
    await fetchedToEnd(kafka);
    expect(await runBatch(input, 2000)).toEqual(['1:3', '1:4']);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-1 [3, 5)']);
    expect(await stored(setup.store, 0, 1)).toEqual([3, 5]);
  });

  it('delivers and commits none of a partition revoked after its batch was planned and before it ran', async () => {
    const kafka = twoPartitions(3);
    kafka.protocol = 'COOPERATIVE';
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    await input.generate(1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 3)', 't-1 [0, 3)']);
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    await until(() => kafka.calls.includes('incrementalUnassign t-0'));
    let values: string[] = [];
    await input.runBatch(1000, async () => {
      values = (await input!.compute(1000)).map((r) => String(r.value));
    });
    expect(values).toEqual(['1:0', '1:1', '1:2']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-1 [0, 3)']);
    expect(input.recordCount(1000)).toBe(3);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, 3]);
  });

  it('drops a revoked partition whose records the running batch still waits for, and delivers and commits the rest', async () => {
    const kafka = twoPartitions(3);
    kafka.protocol = 'COOPERATIVE';
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    // librdkafka pauses a partition it is about to revoke and delivers none of its records until
    // it is unassigned: partition 0's new records never arrive.
    kafka.paused.add('t:0');
    kafka.write('t', 0, 2);
    kafka.cached.set('t:0', { low: 0, high: 5 });
    await input.generate(1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 5)', 't-1 [0, 3)']);
    let values: string[] = [];
    await input.runBatch(1000, async () => {
      const computing = input!.compute(1000);
      await turns(5);
      kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
      values = (await computing).map((r) => String(r.value));
    });
    expect(values).toEqual(['1:0', '1:1', '1:2']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-1 [0, 3)']);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, 3]);
    await until(() => kafka.calls.includes('incrementalUnassign t-0'));
  });

  it('under exactly-once reads the records before the transaction opens, so a revoke meanwhile drops the partition instead of waiting for the batch', async () => {
    const kafka = twoPartitions(3);
    // The eager protocol: the revoke waits for the running batch before the group moves on.
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), delivery: 'exactly-once', revokeTimeoutMs: 60_000 });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    // Partition 0's new records never arrive: librdkafka holds a partition it revokes paused.
    kafka.paused.add('t:0');
    kafka.write('t', 0, 2);
    kafka.cached.set('t:0', { low: 0, high: 5 });
    await input.generate(1000);
    let values: string[] = [];
    let transactions = 0;
    const running = input.runBatch(1000, async (tx) => {
      transactions += 1;
      const records = await input!.compute(1000);
      values = records.map((r) => String(r.value));
      (tx as { set(key: string, value: unknown): void }).set('count', records.length);
    });
    await turns(5);
    expect(transactions).toBe(0);
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    await running;
    expect(values).toEqual(['1:0', '1:1', '1:2']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-1 [0, 3)']);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, 3]);
    expect(setup.store.data.get('count')).toBe(3);
    await until(() => kafka.calls.includes('unassign'));
  });

  it('fails a batch that outlasts revokeTimeoutMs instead of committing the partitions it gave up, and aborts its transaction', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t']),
      delivery: 'exactly-once',
      revokeTimeoutMs: 5000,
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await input.generate(1000);
    let release!: () => void;
    const slowOutput = new Promise<void>((resolve) => (release = resolve));
    const running = input
      .runBatch(1000, async (tx) => {
        (tx as { set(key: string, value: unknown): void }).set('count', (await input!.compute(1000)).length);
        kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
        await slowOutput;
      })
      .catch((error: unknown) => error);
    await until(() => setup.clock.waiterCount > 0);
    await setup.clock.advance(5000);
    await until(() => kafka.calls.includes('unassign'));
    release();
    const error = (await running) as Error;
    expect(error.name).toBe('FencedBatchError');
    expect(error.message).toMatch(/batch 1000 did not commit t:0, t:1.*revokeTimeoutMs \(5000 ms\)/);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, undefined]);
    expect(setup.store.data.has('count')).toBe(false);
  });

  it('plans a partition handed back while a batch was planned from its new start, not from the stale plan', async () => {
    const kafka = twoPartitions(3);
    kafka.protocol = 'COOPERATIVE';
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    // Partition 1's bounds must be asked of the leader; the answer waits until released.
    kafka.cached.delete('t:1');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const query = kafka.queryWatermarkOffsets.bind(kafka);
    kafka.queryWatermarkOffsets = async (p) => {
      if (p.partition === 1) await gate;
      return query(p);
    };
    const planning = input.generate(1000);
    // Meanwhile the group takes partition 0 away and gives it back.
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await until(() => kafka.calls.includes('incrementalAssign t-0@0'));
    release();
    await planning;
    await input.generate(2000);
    expect(input.offsetRanges(2000).map(String)).toContain('t-0 [0, 3)');
  });


  it('plans from the stored offset, instead of stopping, when a member that lost a partition committed it after this one loaded it', async () => {
    const kafka = twoPartitions(3);
    const warnings: string[] = [];
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t']),
      delivery: 'exactly-once',
      logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    await input.generate(1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 3)', 't-1 [0, 3)']);
    kafka.write('t', 0, 2);
    kafka.write('t', 1, 2);
    await fetchedToEnd(kafka);
    // Planned before the conflict shows: from where batch 1000 ends.
    await input.generate(2000);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [3, 5)', 't-1 [3, 5)']);
    // The previous owner of partition 0, past its fence, commits [0, 2) in its own transaction.
    await setup.store.transaction('g', [{ range: OffsetRange.create('t', 0, 0, 2), expectedOffset: null }], async (tx) => {
      tx.set('0:0', 'zombie');
      tx.set('0:1', 'zombie');
    });
    const counted = (tx: unknown, records: readonly ConsumerRecord<string | null, string | null>[]) => {
      for (const { value } of records) (tx as { set(key: string, value: unknown): void }).set(String(value), 'owner');
    };
    await input.runBatch(1000, async (tx) => counted(tx, await input!.compute(1000)));
    // Nothing of batch 1000 was written; the job goes on.
    expect([...setup.store.data.values()].filter((by) => by === 'owner')).toEqual([]);
    expect(input.offsetRanges(1000)).toEqual([]);
    expect(input.recordCount(1000)).toBe(0);
    expect(warnings.join('\n')).toMatch(
      /batch 1000 was not committed: t-0 holds offset 2 where the batch expected none.*Planning from the stored offsets: t-0@2, t-1@0/,
    );
    // Batch 2000 was planned from offsets that no longer hold: it claims neither partition.
    await input.runBatch(2000, async (tx) => counted(tx, await input!.compute(2000)));
    expect(input.offsetRanges(2000)).toEqual([]);
    await input.generate(3000);
    expect(input.offsetRanges(3000).map(String)).toEqual(['t-0 [2, 5)', 't-1 [0, 5)']);
    await input.runBatch(3000, async (tx) => counted(tx, await input!.compute(3000)));
    expect(await stored(setup.store, 0, 1)).toEqual([5, 5]);
    // Every record counted once: the previous owner's two, then this member's.
    const expected = new Map([
      ['0:0', 'zombie'],
      ['0:1', 'zombie'],
      ...['0:2', '0:3', '0:4', '1:0', '1:1', '1:2', '1:3', '1:4'].map((id) => [id, 'owner'] as [string, string]),
    ]);
    expect(new Map([...setup.store.data].filter(([key]) => /^\d:\d$/.test(key)))).toEqual(expected);
  });


  it('plans again from the stored offsets when the group coordinator refuses a commit of an ended generation', async () => {
    const kafka = twoPartitions(3);
    const warnings: string[] = [];
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t']),
      logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    const commit = setup.store.commit.bind(setup.store);
    setup.store.commit = async () => {
      setup.store.commit = commit;
      const refused = new KafkaError('commit offsets to the consumer group: Broker: Specified group generation id is not valid', {
        code: 22,
      });
      throw new OffsetStoreError('kafka', `could not commit to group g: ${refused.message}`, { cause: refused });
    };
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '0:2']);
    expect(input.offsetRanges(1000)).toEqual([]);
    expect(warnings.join('\n')).toMatch(/batch 1000 was not committed: the group coordinator refused it .*Planning from the stored offsets: t-0@0/);
    // At-least-once delivers the batch's records again, and commits them this time.
    expect(await runBatch(input, 2000)).toEqual(['0:0', '0:1', '0:2']);
    expect(await stored(setup.store, 0)).toEqual([3]);
  });


  it('plans at-least-once from the stored offset after a stale commit, delivering again what was not committed', async () => {
    const kafka = twoPartitions(4);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), logger: silentLogger });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    await fetchedToEnd(kafka);
    await input.generate(1000);
    // The previous owner committed past this batch's end.
    await setup.store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 6), expectedOffset: null }]);
    kafka.write('t', 0, 4);
    await fetchedToEnd(kafka);
    const seen: string[] = [];
    await input.runBatch(1000, async () => void seen.push(...(await input!.compute(1000)).map((r) => String(r.value))));
    expect(seen).toEqual(['0:0', '0:1', '0:2', '0:3']);
    expect(await runBatch(input, 2000)).toEqual(['0:6', '0:7']);
    expect(await stored(setup.store, 0)).toEqual([8]);
  });


  it('still stops on a stale commit of a job with state, whose state in memory counted the batch', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), delivery: 'exactly-once' });
    input = setup.input;
    countingState(setup.context);
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    await input.generate(1000);
    await setup.store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 1), expectedOffset: null }]);
    const error = await input.runBatch(1000, async () => void (await input!.compute(1000))).catch((e: unknown) => e);
    expect((error as OffsetStoreError).cause).toBeInstanceOf(StaleOffsetError);
  });


  it('asks again for the bounds of an assigned partition its metadata does not know yet, instead of failing', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    const query = kafka.queryWatermarkOffsets.bind(kafka);
    let refusals = 2;
    kafka.queryWatermarkOffsets = async (p) => {
      if (p.partition === 1 && refusals-- > 0) {
        throw new KafkaError('query watermark offsets of t-1: Local: Unknown partition (librdkafka code -190)', { code: -190 });
      }
      return query(p);
    };
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    const started = input.start();
    await until(() => setup.clock.waiterCount > 0);
    await setup.clock.advance(500);
    await until(() => setup.clock.waiterCount > 0);
    await setup.clock.advance(500);
    await started;
    expect(kafka.calls).toContain('assign t-0@0,t-1@0');
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '1:0', '1:1']);
  });


  it('resumes a partition paused for read-ahead when it is revoked, so it is fetched again once assigned back', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 30);
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t']),
      maxBufferedRecordsPerPartition: 5,
      maxRatePerPartition: 8,
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    expect(await runBatch(input, 1000)).toHaveLength(8);
    await until(() => kafka.paused.has('t:0'));
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await until(() => kafka.calls.includes('assign t-0@8'));
    expect(kafka.paused.has('t:0')).toBe(false);
    expect(await runBatch(input, 2000)).toEqual(Array.from({ length: 8 }, (_, i) => `0:${8 + i}`));
  });

  it('resumes a partition that the client still holds paused when the group assigns it', async () => {
    const kafka = twoPartitions(3);
    // Paused by an earlier owner in this process (librdkafka keeps pauses across unassign/assign).
    kafka.paused.add('t:1');
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    expect(kafka.paused.size).toBe(0);
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '0:2', '1:0', '1:1', '1:2']);
  });

  it('waits out a store outage within storeOutageBudgetMs and commits once the store answers again', async () => {
    const kafka = twoPartitions(2);
    const warnings: string[] = [];
    const setup = setUp(kafka, {
      logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
    });
    input = setup.input;
    await input.start();
    // Backoff of 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, then 5 s: ten failures take about 26 s.
    setup.store.failNextCommits(10);
    await input.generate(1000);
    const running = input.runBatch(1000, async () => void (await input!.compute(1000)));
    await setup.clock.advance(40_000);
    await running;
    expect(await stored(setup.store, 0, 1)).toEqual([2, 2]);
    expect(warnings.filter((w) => /offset store memory failed committing batch 1000/.test(w))).toHaveLength(10);
  });

  it('fails the batch naming the store and the budget once the store stays down past storeOutageBudgetMs', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { storeOutageBudgetMs: 10_000 });
    input = setup.input;
    await input.start();
    setup.store.failNextCommits(1000);
    await input.generate(1000);
    const outcome = input.runBatch(1000, async () => void (await input!.compute(1000))).catch((error: unknown) => error);
    await setup.clock.advance(60_000);
    const error = (await outcome) as OffsetStoreError;
    expect(error).toBeInstanceOf(OffsetStoreError);
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(/offset store memory \(batch 1000\).*outage budget of 10000 ms/);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, undefined]);
  });

  it('closes the store and the consumer when it stops', async () => {
    const kafka = twoPartitions(1);
    const setup = setUp(kafka);
    input = setup.input;
    const close = jest.spyOn(setup.store, 'close');
    await input.start();
    await input.stop();
    expect(close).toHaveBeenCalledTimes(1);
    expect(kafka.calls).toContain('disconnect');
  });

  it('fails to start with a clear error and consumes nothing when the store cannot connect', async () => {
    const kafka = twoPartitions(1);
    const store = new InMemoryOffsetStore();
    store.connect = async () => {
      throw new OffsetStoreError('memory', 'refused', { retriable: true });
    };
    ({ input } = setUp(kafka, { offsetStore: store }));
    await expect(input.start()).rejects.toThrow(/offset store memory: refused/);
    expect(kafka.calls.some((call) => call.startsWith('assign'))).toBe(false);
  });
});

/**
 * A StreamingContext on a ManualClock reading the fake broker through a real direct stream: the
 * scheduler, the fused operators and the input together, as a job runs them.
 */
async function runJob(
  kafka: FakeKafka,
  options: Options,
  build: (stream: DStream<ConsumerRecord<string | null, string | null>>) => DStream<unknown>,
) {
  const clock = new ManualClock(0);
  const context = new StreamingContext({ appName: 'dead-letters', batchIntervalMs: BATCH_MS, clock, stopOnSignals: false, logger: silentLogger });
  const store = (options.offsetStore as InMemoryOffsetStore | undefined) ?? new InMemoryOffsetStore();
  const stream = createDirectStreamWith<string | null, string | null>(
    context,
    {
      kafkaParams: { 'bootstrap.servers': 'fake:9092', 'group.id': 'g' },
      strategy: ConsumerStrategies.Assign([
        { topic: 't', partition: 0 },
        { topic: 't', partition: 1 },
      ]),
      offsetStore: store,
      startingOffsets: 'earliest',
      valueDeserializer: 'string',
      delivery: 'exactly-once',
      logger: silentLogger,
      ...options,
    },
    () => kafka,
  );
  const delivered: unknown[] = [];
  build(stream).foreachBatch((records, batch) => {
    delivered.push(...records);
    (batch.transaction as { set(key: string, value: unknown): void } | undefined)?.set(`out:${batch.time}`, records.length);
  });
  await context.start();
  await fetchedToEnd(kafka);
  const completed = waitForBatches(context, 1);
  await clock.advance(BATCH_MS);
  const [info] = await completed;
  await context.stop();
  await context.awaitTermination().catch(() => undefined);
  return { info, store, delivered };
}

describe('dead-letter policy (recordErrors)', () => {
  const deadLetter = { policy: 'dead-letter' } as const;

  it('runs the batch maxAttempts times, then commits it without the record and keeps its dead letter in the same transaction', async () => {
    const calls: string[] = [];
    const { info, store, delivered } = await runJob(twoPartitions(5), { recordErrors: deadLetter }, (stream) =>
      stream
        .map((record) => record.value!)
        .filter((value) => {
          calls.push(value);
          if (value === '0:2') throw new Error('cannot parse 0:2');
          return true;
        })
        .map((value) => value.toUpperCase()),
    );
    expect(info.failure).toBeUndefined();
    expect(info.numDeadLetters).toBe(1);
    expect(info.numAttempts).toBe(4);
    expect(calls.filter((value) => value === '0:2')).toHaveLength(3);
    expect(delivered).toEqual(['0:0', '0:1', '0:3', '0:4', '1:0', '1:1', '1:2', '1:3', '1:4']);
    expect(info.numRecords).toBe(9);
    expect(await stored(store, 0, 1)).toEqual([5, 5]);
    expect(store.data.get(`out:${BATCH_MS}`)).toBe(9);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([
      {
        topic: 't',
        partition: 0,
        offset: 2,
        key: null,
        value: '0:2',
        operator: 'filter',
        error: 'cannot parse 0:2',
        attempts: 3,
        batchTimeMs: BATCH_MS,
      },
    ]);
  });

  it('runs the batch again after a failure that goes away, and sets nothing aside', async () => {
    let isFirst = true;
    const { info, store, delivered } = await runJob(twoPartitions(3), { recordErrors: deadLetter }, (stream) =>
      stream.map((record) => {
        if (record.value === '1:1' && isFirst) {
          isFirst = false;
          throw new Error('lookup timed out');
        }
        return record.value;
      }),
    );
    expect(info.failure).toBeUndefined();
    expect(info).toMatchObject({ numDeadLetters: 0, numAttempts: 2, numRecords: 6 });
    expect(delivered).toHaveLength(6);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([]);
    expect(await stored(store, 0, 1)).toEqual([3, 3]);
  });

  it("fails the batch at the record under the default 'fail' policy, naming it, and commits nothing", async () => {
    const { info, store } = await runJob(twoPartitions(3), {}, (stream) =>
      stream.map((record) => record.value).map((value) => {
        if (value === '1:2') throw new Error('bad');
        return value;
      }),
    );
    expect(info.failure).toBeInstanceOf(RecordProcessingError);
    expect(info.failure!.message).toBe('map threw at t-1 offset 2: bad');
    expect((info.failure as RecordProcessingError).isSourceRecord).toBe(true);
    expect(info).toMatchObject({ numAttempts: 1, numDeadLetters: 0 });
    expect(await stored(store, 0, 1)).toEqual([undefined, undefined]);
  });

  it('sets aside a record whose value cannot be deserialized, keeping its bytes', async () => {
    const kafka = twoPartitions(3);
    const { info, store, delivered } = await runJob(
      kafka,
      {
        recordErrors: { policy: 'dead-letter', maxAttempts: 1 },
        valueDeserializer: (data) => {
          if (data?.toString() === '1:0') throw new Error('not JSON');
          return data === null ? null : data.toString();
        },
      },
      (stream) => stream.map((record) => record.value),
    );
    expect(info.failure).toBeUndefined();
    expect(delivered).toEqual(['0:0', '0:1', '0:2', '1:1', '1:2']);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([
      expect.objectContaining({
        partition: 1,
        offset: 0,
        value: `base64:${Buffer.from('1:0').toString('base64')}`,
        operator: 'valueDeserializer',
        error: 'not JSON',
        attempts: 1,
      }),
    ]);
  });

  it('keeps failing an error that no single record is to blame for, and says why', async () => {
    const { info, store } = await runJob(twoPartitions(2), { recordErrors: deadLetter }, (stream) =>
      stream
        .map((record) => [record.partition, 1] as [number, number])
        .reduceByKey(() => {
          throw new Error('overflow');
        }),
    );
    expect(info.failure).toBeInstanceOf(RecordProcessingError);
    expect(info.failure!.message).toMatch(/^reduceByKey threw: overflow \(not dead-lettered: no single record read from Kafka is to blame/);
    expect(info.numAttempts).toBe(1);
    expect(await stored(store, 0, 1)).toEqual([undefined, undefined]);
  });

  it('charges the source record when a stage after a flatMap throws on one of the values made from it', async () => {
    const { info, store, delivered } = await runJob(twoPartitions(2), { recordErrors: { policy: 'dead-letter', maxAttempts: 1 } }, (stream) =>
      stream
        .flatMap((record) => [`${record.value}a`, `${record.value}b`])
        .filter((value) => value.length > 0)
        .map((value) => {
          if (value === '1:1b') throw new Error('bad half');
          return value;
        }),
    );
    expect(info.failure).toBeUndefined();
    expect(delivered).toEqual(['0:0a', '0:0b', '0:1a', '0:1b', '1:0a', '1:0b']);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([expect.objectContaining({ partition: 1, offset: 1, value: '1:1', operator: 'map' })]);
  });

  it('charges a failure after a mapPartitions to no source record', async () => {
    const { info } = await runJob(twoPartitions(2), { recordErrors: deadLetter }, (stream) =>
      stream
        .mapPartitions((records) => records)
        .map((record) => {
          if (record.offset === 1) throw new Error('bad');
          return record;
        }),
    );
    expect((info.failure as RecordProcessingError).isSourceRecord).toBe(false);
    expect(info.failure!.message).toMatch(/not dead-lettered/);
  });

  it('charges the source record when the map before an aggregation throws', async () => {
    const { info, store } = await runJob(twoPartitions(3), { recordErrors: { policy: 'dead-letter', maxAttempts: 2 } }, (stream) =>
      stream
        .map((record) => {
          if (record.value === '0:1') throw new Error('bad');
          return [record.partition, 1] as [number, number];
        })
        .reduceByKey((a, b) => a + b),
    );
    expect(info.failure).toBeUndefined();
    expect(info).toMatchObject({ numDeadLetters: 1, numAttempts: 3 });
    expect((await new InMemoryOffsetStore(store).loadDeadLetters('g')).map((letter) => letter.offset)).toEqual([1]);
  });

  it('fails the batch once more than maxPerBatch records would be set aside', async () => {
    const { info, store } = await runJob(
      twoPartitions(3),
      { recordErrors: { policy: 'dead-letter', maxAttempts: 1, maxPerBatch: 2 } },
      (stream) =>
        stream.map(() => {
          throw new Error('bug');
        }),
    );
    expect(info.failure!.message).toMatch(/already set aside recordErrors.maxPerBatch \(2\) records/);
    expect(info.numAttempts).toBe(3);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([]);
    expect(await stored(store, 0, 1)).toEqual([undefined, undefined]);
  });

  it('does not run a batch again when the job keeps state, and says why', async () => {
    const { info } = await runJob(twoPartitions(2), { recordErrors: deadLetter }, (stream) =>
      stream
        .map((record) => {
          if (record.value === '0:1') throw new Error('bad');
          return [record.partition, 1] as [number, number];
        })
        .mapWithState(StateSpec.function((_key: number, value: number | undefined) => value)),
    );
    expect(info.failure!.message).toMatch(/not dead-lettered: the job keeps state \(mapWithState/);
    expect(info.numAttempts).toBe(1);
  });

  it('writes the dead letter before the offsets under at-least-once', async () => {
    const store = new InMemoryOffsetStore();
    const { info } = await runJob(
      twoPartitions(3),
      { recordErrors: { policy: 'dead-letter', maxAttempts: 1 }, delivery: 'at-least-once', offsetStore: store },
      (stream) =>
        stream.map((record) => {
          if (record.value === '1:2') throw new Error('bad');
          return record.value;
        }),
    );
    expect(info.failure).toBeUndefined();
    expect((await new InMemoryOffsetStore(store).loadDeadLetters('g')).map((letter) => `${letter.partition}@${letter.offset}`)).toEqual(['1@2']);
    expect(await stored(store, 0, 1)).toEqual([3, 3]);
  });

  it('refuses a dead-letter policy with at-most-once delivery, where a failing record is never read again', () => {
    expect(() => setUp(new FakeKafka(), { delivery: 'at-most-once', recordErrors: { policy: 'dead-letter' } })).toThrow(
      "recordErrors does not apply with delivery: 'at-most-once'",
    );
  });

  it('refuses a dead-letter policy on a store that cannot keep dead letters', () => {
    const store = new InMemoryOffsetStore();
    Object.defineProperty(store, 'writeDeadLetters', { value: undefined });
    expect(() => setUp(new FakeKafka(), { offsetStore: store, recordErrors: { policy: 'dead-letter' } })).toThrow(
      'recordErrors needs an offset store that keeps dead letters, and store "memory" does not',
    );
  });

  it.each([
    ['dead-letter', "recordErrors must be 'fail' or { policy: 'dead-letter', maxAttempts?, maxPerBatch? }"],
    [{ policy: 'dead-letter', maxAttempts: 0 }, 'recordErrors.maxAttempts must be an integer from 1 to 100'],
    [{ policy: 'dead-letter', maxPerBatch: 1.5 }, 'recordErrors.maxPerBatch must be a positive integer'],
    [{ policy: 'dead-letter', maxAttempt: 2 }, 'recordErrors.maxAttempt is not an option of the dead-letter policy'],
  ])('refuses recordErrors %j', (recordErrors, message) => {
    expect(() => setUp(new FakeKafka(), { recordErrors: recordErrors as never })).toThrow(ConfigError);
    expect(() => setUp(new FakeKafka(), { recordErrors: recordErrors as never })).toThrow(message);
  });
});
