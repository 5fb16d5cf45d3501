import { StreamingContext } from '../context/StreamingContext';
import { DStream } from '../dstream/DStream';
import { batchOf } from '../dstream/batchOf';
import { setSourcePartitionsFromRecords } from '../dstream/sourcePartitions';
import { ConfigError } from '../errors';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { ManualClock } from '../testing/ManualClock';
import { queueStream } from '../testing/queueStream';
import { seededRandom } from '../testing/seededRandom';
import { waitForBatches } from '../testing/waitForBatches';
import { silentLogger } from '../util/Logger';
import type { State } from './State';
import { StateSpec } from './StateSpec';
import { StatePersistence, stateNameOf, unknownStateNames } from './StatePersistence';

/** A record as the Kafka input yields it, reduced to what the tests need. */
interface Rec {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  readonly value: number;
}

const INTERVAL = 1000;
const PARTITIONS = 4;
const add = (a: number, b: number): number => a + b;
const subtract = (a: number, b: number): number => a - b;

/** An input that, like the Kafka direct stream, tells each record's source partition. */
function kafkaLike(ssc: StreamingContext, batches: Rec[][]): DStream<Rec> {
  // queueStream takes batches off the array it is given.
  const queue = queueStream<Rec>(ssc, batches.map((batch) => [...batch]));
  return new DStream<Rec>(ssc, {
    name: 'kafka',
    slideDurationMs: INTERVAL,
    dependencies: [queue],
    yieldsSourceRecords: true,
    compute: async (time) => setSourcePartitionsFromRecords(await batchOf(queue, time)),
  });
}

/** Every stateful operator over co-partitioned keys, each feeding an output. */
function buildGraph(records: DStream<Rec>): Record<string, DStream<unknown>> {
  const pairs = records.map((record) => [record.key, record.value] as const);
  const sessions = pairs.mapWithState(
    StateSpec.function((key: string, value: number | undefined, state: State<number>) => {
      if (state.isTimingOut()) return `${key} ended at ${state.get()}`;
      state.update((state.getOption() ?? 0) + value!);
      return `${key}=${state.get()}`;
    })
      .timeout(4000)
      .name('sessions'),
  );
  return {
    sessions,
    snapshots: sessions.stateSnapshots(),
    totals: pairs.updateStateByKey<number>((values, total = 0) => total + values.reduce(add, 0), { name: 'totals' }),
    incremental: pairs.reduceByKeyAndWindow(add, 4000, 2000, { invFunc: subtract, filterFunc: ([, n]) => n !== 0, name: 'incremental' }),
    recomputed: pairs.reduceByKeyAndWindow(add, 3000, 1000, { name: 'recomputed' }),
    perBatch: pairs.reduceByKey(add).updateStateByKey<number>((values, max = 0) => Math.max(max, ...values), { name: 'maxima' }),
    windowed: records.window(4000, 2000, { name: 'windowed' }),
    grouped: pairs.groupByKeyAndWindow(3000, 1000, { name: 'grouped' }),
  };
}

/** Random batches of records of keys `p<partition>k<n>`, each batch sorted by partition as the Kafka input reads them. */
function randomBatches(seed: number, count: number): Rec[][] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const size = random() < 0.2 ? 0 : 1 + Math.floor(random() * 10);
    const batch: Rec[] = [];
    for (let index = 0; index < size; index++) {
      const partition = Math.floor(random() * PARTITIONS);
      batch.push({ topic: 't', partition, key: `p${partition}k${Math.floor(random() * 3)}`, value: 1 + Math.floor(random() * 5) });
    }
    return batch.sort((a, b) => a.partition - b.partition);
  });
}

/** A store of state names → key JSON → [key, value], as an offset store keeps state. */
type Store = Map<string, Map<string, readonly [unknown, unknown]>>;

/** One process of the group: its context, its outputs by time, and the partitions it owns. */
interface Member {
  readonly ssc: StreamingContext;
  readonly clock: ManualClock;
  readonly seen: Record<string, Map<number, string[]>>;
  owned: Set<string>;
}

async function startMember(batches: Rec[][], startMs: number, owned: readonly number[], store: Store): Promise<Member> {
  const clock = new ManualClock(startMs);
  const ssc = new StreamingContext({ appName: 'member', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
  const records = kafkaLike(ssc, batches);
  const member: Member = { ssc, clock, seen: {}, owned: new Set(owned.map((p) => `t:${p}`)) };
  for (const [name, stream] of Object.entries(buildGraph(records))) {
    member.seen[name] = new Map();
    stream.foreachBatch((out, { time }) => void member.seen[name].set(time, out.map((record) => JSON.stringify(record))));
  }
  // Last: the commit, per source partition the member owns.
  records.foreachBatch((_records, { time }) => {
    for (const operator of ssc.stateOperators) {
      expect(operator.isScoped).toBe(true);
      const { upserts, removals, byPartition } = operator.changesOf(time);
      expect([upserts.length, removals.length]).toEqual([0, 0]);
      for (const [partition, changes] of byPartition ?? []) {
        expect(member.owned.has(partition)).toBe(true);
        const name = stateNameOf(operator.name, partition);
        const fields = store.get(name) ?? new Map<string, readonly [unknown, unknown]>();
        store.set(name, fields);
        // Through JSON, as a store keeps it.
        for (const [key, value] of changes.upserts) fields.set(JSON.stringify(key), JSON.parse(JSON.stringify([key, value])));
        for (const key of changes.removals) fields.delete(JSON.stringify(key));
      }
    }
  });
  // What StatePersistence.claim does under a consumer group.
  for (const operator of ssc.stateOperators) operator.scopeByPartition!();
  for (const partition of member.owned) load(member, partition, store);
  await ssc.start();
  return member;
}

function load(member: Member, partition: string, store: Store): void {
  member.owned.add(partition);
  for (const operator of member.ssc.stateOperators) {
    operator.loadPartition!(partition, [...(store.get(stateNameOf(operator.name, partition))?.values() ?? [])]);
  }
}

function drop(member: Member, partition: string): void {
  member.owned.delete(partition);
  for (const operator of member.ssc.stateOperators) operator.dropPartition!(partition);
}

async function tick(member: Member): Promise<void> {
  const done = waitForBatches(member.ssc, 1);
  await member.clock.advance(INTERVAL);
  const [info] = await done;
  if (info.failure !== undefined) throw info.failure;
}

const ofPartitions = (batch: Rec[], owned: ReadonlySet<string>): Rec[] => batch.filter((record) => owned.has(`t:${record.partition}`));

describe('state kept per source partition', () => {
  it.each([1, 2, 3])(
    'two members that hand partitions over (and one that dies) give together the results of one uninterrupted process (seed %i)',
    async (seed) => {
      const batches = randomBatches(seed, 30);
      const whole = await startMember(batches, 0, [0, 1, 2, 3], new Map());
      for (let index = 0; index < batches.length; index++) await tick(whole);
      await whole.ssc.stop();

      // Batches 0-9: A owns everything. 10-19: B joins with partitions 2 and 3. 20-29: A is gone, B owns all.
      const store: Store = new Map();
      const owners = (index: number): [number[], number[]] => (index < 10 ? [[0, 1, 2, 3], []] : index < 20 ? [[0, 1], [2, 3]] : [[], [0, 1, 2, 3]]);
      const forMember = (side: 0 | 1) => batches.map((batch, index) => ofPartitions(batch, new Set(owners(index)[side].map((p) => `t:${p}`))));
      const a = await startMember(forMember(0).slice(0, 20), 0, [0, 1, 2, 3], store);
      for (let index = 0; index < 10; index++) await tick(a);
      drop(a, 't:2');
      drop(a, 't:3');
      const b = await startMember(forMember(1).slice(10), 10 * INTERVAL, [2, 3], store);
      for (let index = 10; index < 20; index++) {
        await tick(a);
        await tick(b);
      }
      // A dies: its memory is gone, what it committed is not.
      await a.ssc.stop();
      load(b, 't:0', store);
      load(b, 't:1', store);
      for (let index = 20; index < 30; index++) await tick(b);
      await b.ssc.stop();

      for (const [name, byTime] of Object.entries(whole.seen)) {
        for (const [time, records] of byTime) {
          const together = [...(a.seen[name].get(time) ?? []), ...(b.seen[name].get(time) ?? [])].sort();
          expect({ name, time, records: together }).toEqual({ name, time, records: [...records].sort() });
        }
      }
    },
  );

  it('refuses a key whose records come from two partitions, naming the key and both partitions', async () => {
    const batches: Rec[][] = [
      [
        { topic: 't', partition: 0, key: 'u1', value: 1 },
        { topic: 't', partition: 1, key: 'u1', value: 1 },
      ],
    ];
    const member = await startMember(batches, 0, [0, 1], new Map());
    await expect(tick(member)).rejects.toThrow(/key "u1" came from two source partitions, t:0 and t:1.*co-partitioned/);
    await member.ssc.stop();
  });

  it('lets a by-key aggregation mix partitions (keys in first-seen order) unless state downstream is kept per partition', async () => {
    const mixed: Rec[][] = [
      [
        { topic: 't', partition: 0, key: 'a', value: 1 },
        { topic: 't', partition: 0, key: 'b', value: 1 },
        { topic: 't', partition: 1, key: 'c', value: 1 },
        { topic: 't', partition: 1, key: 'a', value: 1 },
      ],
    ];
    const run = async (isScoped: boolean) => {
      const clock = new ManualClock();
      const ssc = new StreamingContext({ appName: 'mixed', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
      const counts = kafkaLike(ssc, mixed)
        .map((record) => [record.key, record.value] as const)
        .reduceByKey(add);
      const seen: (readonly [string, number])[][] = [];
      counts.foreachBatch((pairs) => void seen.push([...pairs]));
      counts.updateStateByKey<number>((values, total = 0) => total + values.reduce(add, 0), { name: 'totals' }).print();
      if (isScoped) for (const operator of ssc.stateOperators) operator.scopeByPartition!();
      await ssc.start();
      const done = waitForBatches(ssc, 1);
      await clock.advance(INTERVAL);
      const [info] = await done;
      await ssc.stop();
      return { seen, failure: info.failure };
    };
    expect(await run(false)).toEqual({ seen: [[['a', 2], ['b', 1], ['c', 1]]], failure: undefined });
    expect((await run(true)).failure?.message).toMatch(/^reduceByKey: key "a" came from two source partitions, t:0 and t:1/);
  });

  it('reads state of the format kept per operator and moves each key to its partition with its next record', async () => {
    const store = new InMemoryOffsetStore();
    await store.connect();
    // Format 1: one state name per operator, as written before state was kept per partition.
    await store.commit('g', [], [
      { operator: 'totals', kind: 'updateStateByKey', stateVersion: 1, upserts: [['p0k0', 10], ['p1k0', 20]], removals: [] },
    ]);
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'upgrade', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
    const records = kafkaLike(ssc, [[{ topic: 't', partition: 0, key: 'p0k0', value: 1 }]]);
    const totals = records
      .map((record) => [record.key, record.value] as const)
      .updateStateByKey<number>((values, total = 0) => total + values.reduce(add, 0), { name: 'totals' });
    const seen: string[][] = [];
    totals.foreachBatch((pairs) => void seen.push(pairs.map((pair) => pair.join('='))));
    const persistence = StatePersistence.claim(ssc, {
      store,
      group: 'g',
      delivery: 'exactly-once',
      logger: silentLogger,
      source: 'test',
      isGroupManaged: true,
    });
    records.foreachBatch(async (_records, { time }) => store.commit('g', [], persistence.changesOf(time, new Set(['t:0', 't:1']))));
    await persistence.restore();
    await persistence.loadPartitions(['t:0', 't:1']);
    await ssc.start();
    const done = waitForBatches(ssc, 1);
    await clock.advance(INTERVAL);
    expect((await done)[0].failure).toBeUndefined();
    await ssc.stop();

    expect(seen).toEqual([['p0k0=11', 'p1k0=20']]);
    expect((await store.loadState('g', 'totals'))?.entries).toEqual([['p1k0', 20]]);
    expect((await store.loadState('g', 'totals@t:0'))?.entries).toEqual([['p0k0', 11]]);
    expect(await store.loadState('g', 'totals@t:1')).toBeUndefined();
  });

  it('refuses at start, under a consumer group, a stateful operator whose input lost the source partitions', () => {
    const ssc = new StreamingContext({ appName: 'lost', batchIntervalMs: INTERVAL, clock: new ManualClock(), stopOnSignals: false, logger: silentLogger });
    const pairs = kafkaLike(ssc, []).map((record) => [record.key, record.value] as const);
    pairs.join(pairs).mapWithState(StateSpec.function((key: string) => key).name('joined')).print();
    const options = { store: new InMemoryOffsetStore(), group: 'g', delivery: 'exactly-once', logger: silentLogger, source: 'test' } as const;
    expect(() => StatePersistence.claim(ssc, { ...options, isGroupManaged: true })).toThrow(ConfigError);
    expect(() => StatePersistence.claim(ssc, { ...options, isGroupManaged: true })).toThrow(/"joined".*lost at join.*ConsumerStrategies.Assign/s);
  });

  it('keeps the whole state of a stateful operator under Assign, where partitions do not move', () => {
    const ssc = new StreamingContext({ appName: 'assign', batchIntervalMs: INTERVAL, clock: new ManualClock(), stopOnSignals: false, logger: silentLogger });
    kafkaLike(ssc, [])
      .map((record) => [record.key, record.value] as const)
      .mapWithState(StateSpec.function((key: string) => key).name('sessions'))
      .print();
    const options = { store: new InMemoryOffsetStore(), group: 'g', delivery: 'exactly-once', logger: silentLogger, source: 'test' } as const;
    StatePersistence.claim(ssc, options);
    expect(ssc.stateOperators.map((operator) => [operator.canScopeByPartition, operator.isScoped])).toEqual([[true, false]]);
  });

  it('keeps the whole state of a stateful operator whose input lost the source partitions, under Assign', () => {
    const ssc = new StreamingContext({ appName: 'lost', batchIntervalMs: INTERVAL, clock: new ManualClock(), stopOnSignals: false, logger: silentLogger });
    const pairs = kafkaLike(ssc, []).map((record) => [record.key, record.value] as const);
    pairs.join(pairs).mapWithState(StateSpec.function((key: string) => key).name('joined')).print();
    const options = { store: new InMemoryOffsetStore(), group: 'g', delivery: 'exactly-once', logger: silentLogger, source: 'test' } as const;
    expect(StatePersistence.claim(ssc, options).isPersistent).toBe(true);
    expect(ssc.stateOperators.map((operator) => [operator.canScopeByPartition, operator.isScoped])).toEqual([[false, false]]);
  });

  it('logs at start the stored state of operators the job no longer has, with the command that removes it', async () => {
    const store = new InMemoryOffsetStore();
    await store.connect();
    await store.commit('g', [], ['totals@t:0', 'gone@t:0', 'gone@t:1'].map((operator) => ({ operator, kind: 'updateStateByKey', stateVersion: 1, upserts: [['k', 1]], removals: [] })));
    const ssc = new StreamingContext({ appName: 'orphans', batchIntervalMs: INTERVAL, clock: new ManualClock(), stopOnSignals: false, logger: silentLogger });
    kafkaLike(ssc, [])
      .map((record) => [record.key, record.value] as const)
      .updateStateByKey<number>((values, total = 0) => total + values.length, { name: 'totals' })
      .print();
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (message: string) => void warnings.push(message) };
    await StatePersistence.claim(ssc, { store, group: 'g', delivery: 'exactly-once', logger, source: 'test', isGroupManaged: true }).restore();
    expect(warnings).toEqual([expect.stringMatching(/no operator of this job reads: gone\. .*dstream offsets state --group g --remove gone/)]);
  });

  it('names stored state no operator reads', () => {
    const operators = [{ name: 'sessions' }, { name: 'totals' }];
    expect(unknownStateNames(['sessions', 'sessions@t:0', 'totals@t:3', 'old@t:1', 'old@t:2', 'legacy'], operators)).toEqual(['legacy', 'old']);
  });
});
