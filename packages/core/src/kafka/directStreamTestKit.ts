/**
 * The fake broker and the setup the direct stream's unit tests share: `FakeKafka`, an in-memory
 * stand-in for the librdkafka consumer, streams made over it (driven directly with `setUp`, or in
 * a whole job with `runJob`), and the waits that let its fetch loop run. Test code only: the
 * package build leaves it out.
 */
import type { StreamingContextLike, InputSource } from '../context/types';
import { StreamingContext } from '../context/StreamingContext';
import type { DStream } from '../dstream/DStream';
import { waitForBatches } from '../testing/waitForBatches';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { topicPartitionKey, TopicPartition } from '../offsets/OffsetRange';
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
export interface FakeLog {
  records: Map<number, string>;
  low: number;
  high: number;
}

/**
 * An in-memory stand-in for the librdkafka consumer: logs per partition, an assignment with
 * fetch positions, pause/seek, end-of-partition events and rebalance callbacks on demand.
 */
export class FakeKafka implements KafkaConsumerClient {
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
  /** What each `consume` asked for, in order. */
  readonly consumeSizes: number[] = [];
  async consume<R extends FetchedRecord>(maxMessages: number, _timeoutMs: number, build: RecordBuilder<R>): Promise<ConsumeResult<R>> {
    this.consumeSizes.push(maxMessages);
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

/** The batch interval of every stream the tests make. */
export const BATCH_MS = 1000;

/** Direct stream options a test overrides; the rest come from `fakeStreamOptions`. */
export type Options = Partial<DirectStreamOptions<string | null, string | null>>;

/**
 * The options every test stream starts from: the fake broker's brokers and group, partitions 0
 * and 1 of topic `t` assigned, `store`, the earliest start, string values and no log output.
 */
function fakeStreamOptions(store: InMemoryOffsetStore): DirectStreamOptions<string | null, string | null> {
  return {
    kafkaParams: { 'bootstrap.servers': 'fake:9092', 'group.id': 'g' },
    strategy: ConsumerStrategies.Assign([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ]),
    offsetStore: store,
    startingOffsets: 'earliest',
    valueDeserializer: 'string',
    logger: silentLogger,
    // FakeKafka behaves as librdkafka's consumer does (a pause drops what it prefetched; a
    // partition about to be revoked is paused first): the stream reads from it as from librdkafka.
    fetchEngine: 'librdkafka',
  };
}

/**
 * A direct stream over `kafka` on a context stand-in that records what the stream registers; the
 * tests drive the input directly.
 */
export function setUp(kafka: FakeKafka, options: Options = {}, batchIntervalMs = BATCH_MS) {
  const inputs: InputSource[] = [];
  const clock = new ManualClock(0);
  const context: StreamingContextLike & { clock: ManualClock } = {
    batchIntervalMs,
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
    { ...fakeStreamOptions(store), ...options },
    (config) => {
      kafka.config = config;
      return kafka;
    },
  );
  const input = inputs[0] as DirectKafkaInputDStream<string | null, string | null>;
  return { input, store, clock, context };
}

/** Registers a stateful operator with `context` that counts records per value; `count` runs it on a batch. */
export function countingState(context: StreamingContextLike) {
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
export async function runBatch(
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

/** The offsets `store` holds for these partitions of topic `t`, read through a fresh instance. */
export function stored(store: InMemoryOffsetStore, ...partitions: number[]) {
  // A new instance on the store's memory: the stream closed the one it used when it stopped.
  return new InMemoryOffsetStore(store)
    .load(
      'g',
      partitions.map((partition) => ({ topic: 't', partition })),
    )
    .then((map) => partitions.map((p) => map.get(`t:${p}`)));
}

/** Waits until the fetch loop fetched every assigned partition up to its log end, as a running consumer soon does. */
export async function fetchedToEnd(kafka: FakeKafka): Promise<void> {
  const isCaughtUp = () =>
    [...kafka.positions.keys()].every((key) => {
      const [topic, partition] = key.split(':');
      return kafka.cached.get(key)?.high === kafka.log(topic, Number(partition)).high;
    });
  while (!isCaughtUp()) await new Promise((resolve) => setImmediate(resolve));
}

/** Lets `count` turns of the event loop pass (the fake's consume calls deliver rebalance events). */
export async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Waits, turn by turn, until `condition` holds; fails after 10,000 turns. */
export async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`condition never held: ${condition}`);
}

/** A fake broker with `records` records in each of partitions 0 and 1 of topic `t`. */
export function twoPartitions(records = 5): FakeKafka {
  const kafka = new FakeKafka();
  kafka.write('t', 0, records);
  kafka.write('t', 1, records);
  return kafka;
}

/**
 * A StreamingContext on a ManualClock reading the fake broker through a real direct stream: the
 * scheduler, the fused operators and the input together, as a job runs them.
 */
export async function runJob(
  kafka: FakeKafka,
  options: Options,
  build: (stream: DStream<ConsumerRecord<string | null, string | null>>) => DStream<unknown>,
) {
  const clock = new ManualClock(0);
  const context = new StreamingContext({ appName: 'dead-letters', batchIntervalMs: BATCH_MS, clock, stopOnSignals: false, logger: silentLogger });
  const store = (options.offsetStore as InMemoryOffsetStore | undefined) ?? new InMemoryOffsetStore();
  const stream = createDirectStreamWith<string | null, string | null>(
    context,
    { ...fakeStreamOptions(store), delivery: 'exactly-once', ...options },
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
