import { StreamingContext } from '../../context/StreamingContext';
import { ConfigError } from '../../errors';
import { stateRegistryOf } from '../../state/StateRegistry';
import { ManualClock } from '../../testing/ManualClock';
import { queueStream } from '../../testing/queueStream';
import { runBatches } from '../../testing/runBatches';
import { randomPairBatches, seededRandom } from '../../testing/seededRandom';
import { waitForBatches } from '../../testing/waitForBatches';
import { silentLogger } from '../../util/Logger';

type Pair = [string, number];
const INTERVAL = 1000;
const add = (a: number, b: number): number => a + b;
const subtract = (a: number, b: number): number => a - b;

function windowTimes(count: number, slideMs: number): number[] {
  const times: number[] = [];
  for (let t = slideMs; t <= count * INTERVAL; t += slideMs) times.push(t);
  return times;
}

/** The pairs of `(t - windowMs, t]`, oldest batch first; batch i is at (i + 1) * INTERVAL. */
function pairsInWindow<T>(batches: readonly (readonly T[])[], t: number, windowMs: number): T[] {
  return batches.filter((_, index) => (index + 1) * INTERVAL > t - windowMs && (index + 1) * INTERVAL <= t).flat();
}

/** Brute force: every key of the window folded with `fn` in batch order, first-seen key order. */
function reduceWindow<V>(pairs: readonly (readonly [string, V])[], fn: (a: V, b: V) => V): [string, V][] {
  const reduced = new Map<string, V>();
  for (const [key, value] of pairs) reduced.set(key, reduced.has(key) ? fn(reduced.get(key)!, value) : value);
  return [...reduced];
}

const byKey = (pairs: readonly Pair[]): Pair[] => [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

const SHAPES: [number, number][] = [
  [3000, 1000],
  [4000, 2000],
  [5000, 2000],
  [2000, 3000],
  [6000, 3000],
];

describe('reduceByKeyAndWindow', () => {
  it('reduces each key over (t - window, t], the first windows shorter', async () => {
    const output = await runBatches<readonly [string, number], Pair>(
      [[['a', 1]], [['a', 2], ['b', 5]], [['a', 4]], [], [['b', 1]]],
      (pairs) => pairs.reduceByKeyAndWindow((x, y) => x + y, 2000),
    );
    expect(output).toEqual([[['a', 1]], [['a', 3], ['b', 5]], [['a', 6], ['b', 5]], [['a', 4]], [['b', 1]]]);
  });

  it('with invFunc keeps keys that left the window at the inverse result, as Spark does, until filterFunc drops them', async () => {
    const input: (readonly [string, number])[][] = [[['a', 1]], [['b', 2]], [], []];
    const kept = await runBatches<readonly [string, number], Pair>(input, (pairs) =>
      pairs.reduceByKeyAndWindow(add, 2000, 1000, { invFunc: subtract }),
    );
    expect(kept).toEqual([[['a', 1]], [['a', 1], ['b', 2]], [['a', 0], ['b', 2]], [['a', 0], ['b', 0]]]);
    const filtered = await runBatches<readonly [string, number], Pair>(input, (pairs) =>
      pairs.reduceByKeyAndWindow(add, 2000, 1000, { invFunc: subtract, filterFunc: ([, n]) => n !== 0 }),
    );
    expect(filtered).toEqual([[['a', 1]], [['a', 1], ['b', 2]], [['b', 2]], []]);
  });

  it.each(SHAPES)('without invFunc equals a recomputation over random batches, in order (window %i, slide %i)', async (windowMs, slideMs) => {
    const random = seededRandom(windowMs + slideMs);
    const batches = randomPairBatches(random, { count: 30, keys: ['a', 'b', 'c', 'd'], minValue: 0, maxValue: 9 }).map((batch) =>
      batch.map(([key, value]): [string, string] => [key, String(value)]),
    );
    // Concatenation is associative but not commutative: the order of batches and records shows.
    const concat = (a: string, b: string): string => a + b;
    const output = await runBatches(batches, (pairs) => pairs.reduceByKeyAndWindow(concat, windowMs, slideMs));
    const expected = windowTimes(batches.length, slideMs).map((t) => reduceWindow(pairsInWindow(batches, t, windowMs), concat));
    expect(output).toEqual(expected);
  });

  it.each(SHAPES)('with invFunc equals a recomputation over random batches (window %i, slide %i)', async (windowMs, slideMs) => {
    const batches = randomPairBatches(seededRandom(windowMs * 3 + slideMs), {
      count: 30,
      keys: ['a', 'b', 'c', 'd', 'e'],
      minValue: -5,
      maxValue: 9,
    });
    const output = await runBatches(batches, (pairs) => pairs.reduceByKeyAndWindow(add, windowMs, slideMs, { invFunc: subtract }));
    const seen = new Set<string>();
    const expected = windowTimes(batches.length, slideMs).map((t) => {
      const window = new Map(reduceWindow(pairsInWindow(batches, t, windowMs), add));
      for (const key of window.keys()) seen.add(key);
      // Spark's semantics: a key once in a window stays, at 0 (the inverse's result) when absent.
      return byKey([...seen].map((key): Pair => [key, window.get(key) ?? 0]));
    });
    expect(output.map(byKey)).toEqual(expected);
  });

  it.each(SHAPES)('with invFunc and filterFunc equals the filtered recomputation and the form without invFunc (window %i, slide %i)', async (windowMs, slideMs) => {
    const batches = randomPairBatches(seededRandom(windowMs * 5 + slideMs), { count: 30, keys: ['a', 'b', 'c', 'd'], minValue: 1, maxValue: 3 });
    const positive = ([, n]: Pair): boolean => n !== 0;
    const incremental = await runBatches(batches, (pairs) =>
      pairs.reduceByKeyAndWindow(add, windowMs, slideMs, { invFunc: subtract, filterFunc: positive }),
    );
    const recomputed = await runBatches(batches, (pairs) => pairs.reduceByKeyAndWindow(add, windowMs, slideMs, { filterFunc: positive }));
    const expected = windowTimes(batches.length, slideMs).map((t) => byKey(reduceWindow(pairsInWindow(batches, t, windowMs), add)));
    expect(incremental.map(byKey)).toEqual(expected);
    expect(recomputed.map(byKey)).toEqual(expected);
  });

  it('calls invFunc only for keys of the batches that left the window, not the whole window', async () => {
    const removed: string[] = [];
    await runBatches<readonly [string, number], Pair>(
      [[['a', 1], ['b', 1]], [['c', 1]], [['d', 1]], [['e', 1]]],
      (pairs) =>
        pairs.reduceByKeyAndWindow(add, 2000, 1000, {
          invFunc: (x, y) => {
            removed.push(`${x}-${y}`);
            return x - y;
          },
        }),
    );
    // Batch 1000 (a, b) leaves at 3000, batch 2000 (c) at 4000.
    expect(removed).toEqual(['1-1', '1-1', '1-1']);
  });

  it('keeps one reduced slice per parent batch still in a window, and frees the rest', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'w', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
    const pairs = queueStream<readonly [string, number]>(ssc, Array.from({ length: 10 }, (_, index) => [['k', index]] as const));
    const windowed = pairs.reduceByKeyAndWindow(add, 3000, 1000, { invFunc: subtract });
    const [operator] = stateRegistryOf(ssc).operators;
    const sliceCounts: number[] = [];
    windowed.foreachBatch(() => {
      sliceCounts.push([...operator.entries()].filter(([key]) => (key as unknown[])[0] === 'slice').length);
    });
    await ssc.start();
    const done = waitForBatches(ssc, 10);
    await clock.advance(10 * INTERVAL);
    await done;
    await ssc.stop();
    expect(sliceCounts).toEqual([1, 2, 3, 3, 3, 3, 3, 3, 3, 3]);
    // The parent's records are folded while current: the input keeps only what its slide needs.
    expect(pairs.rememberedBatchTimesMs.length).toBeLessThanOrEqual(2);
  });

  it('wraps a throw of fn, invFunc or filterFunc as a RecordProcessingError naming the operator', async () => {
    const boom = (): never => {
      throw new Error('boom');
    };
    for (const options of [{ invFunc: boom }, { filterFunc: boom }]) {
      const run = runBatches<readonly [string, number], Pair>([[['a', 1]], [['a', 1]], [], []], (pairs) =>
        pairs.reduceByKeyAndWindow(add, 2000, 1000, options),
      );
      await expect(run).rejects.toMatchObject({ name: 'RecordProcessingError', message: 'reduceByKeyAndWindow threw: boom' });
    }
    const run = runBatches<readonly [string, number], Pair>([[['a', 1], ['a', 2]]], (pairs) => pairs.reduceByKeyAndWindow(boom, 2000));
    await expect(run).rejects.toMatchObject({ name: 'RecordProcessingError', message: 'reduceByKeyAndWindow threw: boom' });
  });

  it('rejects a non-function fn, invFunc or filterFunc and bad durations', () => {
    const ssc = new StreamingContext({ appName: 'w', batchIntervalMs: INTERVAL, clock: new ManualClock(), stopOnSignals: false });
    const pairs = queueStream<readonly [string, number]>(ssc, []);
    expect(() => pairs.reduceByKeyAndWindow(1 as never, 2000)).toThrow('reduceByKeyAndWindow(fn) must be a function; got 1.');
    expect(() => pairs.reduceByKeyAndWindow(add, 2000, 1000, { invFunc: 'x' as never })).toThrow('reduceByKeyAndWindow(invFunc) must be a function');
    expect(() => pairs.reduceByKeyAndWindow(add, 2000, 1000, { filterFunc: 3 as never })).toThrow(ConfigError);
    expect(() => pairs.reduceByKeyAndWindow(add, 1500)).toThrow("reduceByKeyAndWindow(windowMs) must be a positive multiple of the parent stream's slide duration (1000 ms); got 1500.");
  });
});
