import { StreamingContext } from '../context/StreamingContext';
import type { DStream } from '../dstream/DStream';
import { ConfigError } from '../errors';
import { ManualClock } from '../testing/ManualClock';
import { queueStream } from '../testing/queueStream';
import { randomPairBatches, seededRandom } from '../testing/seededRandom';
import { waitForBatches } from '../testing/waitForBatches';
import { silentLogger } from '../util/Logger';
import type { State } from './State';
import { StateSpec } from './StateSpec';
import { StateChangeLog, type StoredState, fromStoredState, toStoredState } from './StatefulOperator';
import { stateRegistryOf } from './StateRegistry';

type Pair = readonly [string, number];
const INTERVAL = 1000;
const add = (a: number, b: number): number => a + b;
const subtract = (a: number, b: number): number => a - b;

/** Every stateful operator, each feeding an output: what restore must bring back. */
function buildGraph(pairs: DStream<Pair>): Record<string, DStream<unknown>> {
  const sessions = pairs.mapWithState(
    StateSpec.function((key: string, value: number | undefined, state: State<number>) => {
      if (state.isTimingOut()) return `${key} ended at ${state.get()}`;
      if (value === 0) {
        if (state.exists()) state.remove();
        return `${key} removed`;
      }
      state.update((state.getOption() ?? 0) + value!);
      return `${key}=${state.get()}`;
    }).timeout(3000),
  );
  return {
    totals: pairs.updateStateByKey<number>((values, total = 0) => {
      const next = total + values.reduce(add, 0);
      return next > 40 ? undefined : next;
    }),
    sessions,
    snapshots: sessions.stateSnapshots(),
    incremental: pairs.reduceByKeyAndWindow(add, 4000, 2000, { invFunc: subtract, filterFunc: ([, n]) => n !== 0 }),
    recomputed: pairs.reduceByKeyAndWindow(add, 3000, 1000),
    counts: pairs.countByWindow(5000, 1000),
    values: pairs.map(([key]) => key).countByValueAndWindow(6000, 2000),
    windowed: pairs.window(3000, 1000),
    grouped: pairs.groupByKeyAndWindow(4000, 2000),
  };
}

/** A stand-in for an offset store's state table: version-1 records by operator and key, written as JSON. */
type Store = Map<string, string>;

function commitChanges(ssc: StreamingContext, time: number, store: Store): void {
  for (const operator of ssc.stateOperators) {
    const { upserts, removals } = operator.changesOf(time);
    for (const [key, value] of upserts) {
      store.set(JSON.stringify([operator.name, key]), JSON.stringify(toStoredState(operator.name, key, value)));
    }
    for (const key of removals) store.delete(JSON.stringify([operator.name, key]));
  }
}

function restoreFrom(ssc: StreamingContext, store: Store): void {
  const records = [...store.values()].map((json) => JSON.parse(json) as StoredState);
  for (const operator of ssc.stateOperators) {
    operator.restore(records.filter((record) => record.operator === operator.name).map((record) => fromStoredState(record, operator.name)));
  }
}

const normalized = (records: readonly unknown[]): string[] => records.map((record) => JSON.stringify(record)).sort();

/**
 * Runs the graph over `batches` from clock time `startMs` (first batch at startMs + 1000),
 * restoring from `store` before start when given, and committing every batch's changes to it.
 * Returns each output's batches by time (records normalized: order aside).
 */
async function run(batches: readonly Pair[][], startMs: number, store: Store, restore: boolean) {
  const clock = new ManualClock(startMs);
  const ssc = new StreamingContext({ appName: 'restore', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
  const pairs = queueStream<Pair>(ssc, batches.map((batch) => [...batch]));
  const outputs = buildGraph(pairs);
  const seen: Record<string, Map<number, string[]>> = {};
  for (const [name, stream] of Object.entries(outputs)) {
    seen[name] = new Map();
    stream.foreachBatch((records, { time }) => void seen[name].set(time, normalized(records)));
  }
  // Registered last, so it runs after the outputs: where the commit path reads the changes.
  pairs.foreachBatch((_records, { time }) => commitChanges(ssc, time, store));
  if (restore) restoreFrom(ssc, store);
  await ssc.start();
  for (let batch = 0; batch < batches.length; batch++) {
    const done = waitForBatches(ssc, 1);
    await clock.advance(INTERVAL);
    const [info] = await done;
    if (info.failure !== undefined) throw info.failure;
  }
  await ssc.stop();
  return { seen, names: ssc.stateOperators.map((operator) => operator.name), ssc };
}

describe('state restore', () => {
  it.each([1, 2, 3])('restoring the stored changes and continuing gives the results of an uninterrupted run (seed %i)', async (seed) => {
    const batches = randomPairBatches(seededRandom(seed), { count: 30, keys: ['a', 'b', 'c', 'd', 'e'], minValue: 0, maxValue: 6 });
    const whole = await run(batches, 0, new Map(), false);
    const store: Store = new Map();
    const stopAt = 12;
    const first = await run(batches.slice(0, stopAt), 0, store, false);
    const second = await run(batches.slice(stopAt), stopAt * INTERVAL, store, true);
    expect(second.names).toEqual(first.names);
    for (const [name, byTime] of Object.entries(whole.seen)) {
      for (const [time, records] of byTime) {
        const resumed = time <= stopAt * INTERVAL ? first.seen[name].get(time) : second.seen[name].get(time);
        expect({ name, time, records: resumed }).toEqual({ name, time, records });
      }
    }
  });

  it('records what each batch changed: keys written with their new value, keys removed', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'changes', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
    const pairs = queueStream<Pair>(ssc, [[['a', 1], ['b', 5], ['a', 2]], [['c', 1]], [['b', -5]], []]);
    const totals = pairs.updateStateByKey<number>((values, total = 0) => {
      const next = total + values.reduce(add, 0);
      return next === 0 ? undefined : next;
    });
    const [operator] = ssc.stateOperators;
    const changes: unknown[] = [];
    totals.foreachBatch((_records, { time }) => void changes.push(operator.changesOf(time)));
    await ssc.start();
    const done = waitForBatches(ssc, 4);
    await clock.advance(4 * INTERVAL);
    await done;
    await ssc.stop();
    expect(changes).toEqual([
      { upserts: [['a', 3], ['b', 5]], removals: [] },
      // Keys without records whose state is unchanged are not listed.
      { upserts: [['c', 1]], removals: [] },
      { upserts: [], removals: ['b'] },
      { upserts: [], removals: [] },
    ]);
    // Only the last two batches are kept.
    expect(operator.changesOf(1000)).toEqual({ upserts: [], removals: [] });
    expect(operator.changesOf(3000)).toEqual({ upserts: [], removals: ['b'] });
  });

  it('lists a key changed several times in one batch once, with its last change, matching array keys by their JSON', () => {
    const log = new StateChangeLog();
    log.begin(1000);
    log.upsert(['window', 'a'], 1);
    log.upsert(['window', 'a'], 2);
    log.upsert(['window', 'b'], 1);
    log.remove(['window', 'b']);
    log.remove('k');
    log.upsert('k', 3);
    const { upserts, removals } = log.changesOf(1000);
    expect(upserts).toEqual(expect.arrayContaining([[['window', 'a'], 2], ['k', 3]]));
    expect(upserts).toHaveLength(2);
    expect(removals).toEqual([['window', 'b']]);
  });

  it('lists each key of every operator at most once per batch, as a store writes it', async () => {
    const batches = randomPairBatches(seededRandom(7), { count: 12, keys: ['a', 'b', 'c', 'd'], minValue: -2, maxValue: 5 });
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ appName: 'once', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
    const outputs = buildGraph(queueStream<Pair>(ssc, batches.map((batch) => [...batch])));
    const repeated: string[] = [];
    let checked = 0;
    // After the batch's outputs ran, as the commit path reads them.
    ssc.addStreamingListener({
      onBatchCompleted: ({ info }) => {
        for (const operator of ssc.stateOperators) {
          const { upserts, removals } = operator.changesOf(info.batchTimeMs);
          const keys = [...upserts.map(([key]) => key), ...removals].map((key) => JSON.stringify(key));
          checked += keys.length;
          if (new Set(keys).size !== keys.length) repeated.push(`${operator.name} at ${info.batchTimeMs}`);
        }
      },
    });
    for (const stream of Object.values(outputs)) stream.foreachBatch(() => undefined);
    await ssc.start();
    const done = waitForBatches(ssc, batches.length);
    await clock.advance(batches.length * INTERVAL);
    await done;
    await ssc.stop();
    expect(checked).toBeGreaterThan(0);
    expect(repeated).toEqual([]);
  });

  it('a store rebuilt from changes holds exactly the operators entries()', async () => {
    const batches = randomPairBatches(seededRandom(9), { count: 15, keys: ['a', 'b', 'c'], minValue: 0, maxValue: 6 });
    const store: Store = new Map();
    const { ssc } = await run(batches, 0, store, false);
    const fromEntries = new Set<string>();
    for (const operator of ssc.stateOperators) {
      for (const [key, value] of operator.entries()) fromEntries.add(JSON.stringify(toStoredState(operator.name, key, value)));
    }
    expect(new Set(store.values())).toEqual(fromEntries);
  });

  it('names state deterministically from the lineage, numbers repeats and takes given names', () => {
    const ssc = new StreamingContext({ appName: 'names', batchIntervalMs: INTERVAL, clock: new ManualClock(), stopOnSignals: false });
    const pairs = queueStream<Pair>(ssc, []);
    pairs.updateStateByKey<number>(() => 1);
    pairs.updateStateByKey<number>(() => 1);
    pairs.map((pair) => pair).reduceByKeyAndWindow(add, 2000, 1000, { invFunc: subtract });
    pairs.mapWithState(StateSpec.function(() => 1).name('sessions'));
    pairs.countByWindow(2000, 1000, { name: 'clicks-per-window' });
    pairs.mapWithState(StateSpec.function(() => 1).name('ignored'), { name: 'visits' });
    expect(ssc.stateOperators.map(({ name, kind, stateVersion }) => [name, kind, stateVersion])).toEqual([
      ['updateStateByKey:queueStream', 'updateStateByKey', 1],
      ['updateStateByKey:queueStream#2', 'updateStateByKey', 1],
      ['reduceByKeyAndWindow:queueStream/map', 'reduceByKeyAndWindow', 1],
      ['sessions', 'mapWithState', 1],
      ['clicks-per-window', 'countByWindow', 1],
      ['visits', 'mapWithState', 1],
    ]);
    expect(stateRegistryOf(ssc).get('sessions')?.kind).toBe('mapWithState');
    expect(() => pairs.updateStateByKey<number>(() => 1, { name: 'sessions' })).toThrow(
      'updateStateByKey name must be unique among the stateful operators of a StreamingContext; got "sessions".',
    );
    expect(() => pairs.updateStateByKey<number>(() => 1, { name: '' })).toThrow(ConfigError);
  });

  it('resumes named state after the code changed: narrow and stateful operators added before it', async () => {
    const batches = randomPairBatches(seededRandom(11), { count: 16, keys: ['a', 'b', 'c'], minValue: 0, maxValue: 6 });
    const totals = StateSpec.function((key: string, value: number | undefined, state: State<number>) => {
      state.update((state.getOption() ?? 0) + value!);
      return `${key}=${state.get()}`;
    }).name('totals');
    /** Runs `build`'s output over `batches` from `startMs`, committing state changes to `store` (restoring first when asked). */
    const runJob = async (build: (pairs: DStream<Pair>) => DStream<string>, slice: readonly Pair[][], startMs: number, store: Store, restore: boolean) => {
      const clock = new ManualClock(startMs);
      const ssc = new StreamingContext({ appName: 'upgrade', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
      const pairs = queueStream<Pair>(ssc, slice.map((batch) => [...batch]));
      const seen = new Map<number, string[]>();
      build(pairs).foreachBatch((records, { time }) => void seen.set(time, normalized(records)));
      pairs.foreachBatch((_records, { time }) => commitChanges(ssc, time, store));
      if (restore) restoreFrom(ssc, store);
      await ssc.start();
      const done = waitForBatches(ssc, slice.length);
      await clock.advance(slice.length * INTERVAL);
      await done;
      await ssc.stop();
      return seen;
    };
    const version1 = (pairs: DStream<Pair>) => pairs.mapWithState(totals);
    // Version 2 keeps zeros out and counts distinct values in a stateful operator of its own, before the old one.
    const version2 = (pairs: DStream<Pair>) => {
      pairs.updateStateByKey<number>((values, count = 0) => count + values.length, { name: 'counts' });
      return pairs.filter(([, value]) => value !== 0).map(([key, value]) => [key, value] as const).mapWithState(totals);
    };
    const stopAt = 7;
    const store: Store = new Map();
    await runJob(version1, batches.slice(0, stopAt), 0, store, false);
    const resumed = await runJob(version2, batches.slice(stopAt), stopAt * INTERVAL, store, true);
    // Offline: running totals over every batch, and version 2's output for each record it keeps.
    const running = new Map<string, number>();
    batches.forEach((batch, index) => {
      const outputs: string[] = [];
      for (const [key, value] of batch) {
        running.set(key, (running.get(key) ?? 0) + value);
        if (value !== 0) outputs.push(`${key}=${running.get(key)}`);
      }
      const time = (index + 1) * INTERVAL;
      if (index >= stopAt) expect({ time, records: resumed.get(time) }).toEqual({ time, records: normalized(outputs) });
    });
    expect(resumed.size).toBe(batches.length - stopAt);
  });

  it('reads only version-1 records of the operator asked for', () => {
    expect(fromStoredState({ v: 1, operator: 'x', key: 'k', value: 2 }, 'x')).toEqual(['k', 2]);
    expect(() => fromStoredState({ v: 2, operator: 'x', key: 'k', value: 2 }, 'x')).toThrow('must be a { v: 1, operator, key, value } record');
    expect(() => fromStoredState({ v: 1, operator: 'y', key: 'k', value: 2 }, 'x')).toThrow('belongs to operator "y", not "x"');
  });
});
