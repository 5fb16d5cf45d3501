import { StreamingContext } from '../../context/StreamingContext';
import { ConfigError } from '../../errors';
import { ManualClock } from '../../testing/ManualClock';
import { queueStream } from '../../testing/queueStream';
import { runBatches } from '../../testing/runBatches';
import { randomPairBatches, seededRandom } from '../../testing/seededRandom';
import { waitForBatches } from '../../testing/waitForBatches';
import { silentLogger } from '../../util/Logger';

type Pair = readonly [string, number];
const sorted = <S>(pairs: readonly [string, S][]): [string, S][] => [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : 1));
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** Keeps a running sum; a key goes when the sum passes 30, or when it is idle on a multiple of 3. */
function update(values: number[], previous: number | undefined): number | undefined {
  if (values.length === 0 && previous !== undefined && previous % 3 === 0) return undefined;
  const next = (previous ?? 0) + sum(values);
  return next > 30 ? undefined : next;
}

describe('updateStateByKey', () => {
  it('keeps a state per key across batches; each batch is every key with its state', async () => {
    const output = await runBatches<Pair, [string, number]>(
      [[['a', 1], ['b', 2], ['a', 3]], [], [['b', 1], ['c', 5]]],
      (pairs) => pairs.updateStateByKey<number>((values, total = 0) => total + sum(values)),
    );
    expect(output).toEqual([[['a', 4], ['b', 2]], [['a', 4], ['b', 2]], [['a', 4], ['b', 3], ['c', 5]]]);
  });

  it('calls update for every key with state, with no values when the key had no records, and removes a key on undefined', async () => {
    const calls: string[] = [];
    const output = await runBatches<Pair, [string, number]>([[['a', 1], ['b', 1]], [['b', 1]], []], (pairs) =>
      pairs.updateStateByKey<number>((values, previous) => {
        calls.push(`${values.join('+')}|${previous}`);
        return values.length === 0 ? undefined : (previous ?? 0) + sum(values);
      }),
    );
    expect(calls).toEqual(['1|undefined', '1|undefined', '|1', '1|1', '|2']);
    expect(output).toEqual([[['a', 1], ['b', 1]], [['b', 2]], []]);
  });

  it('starts from initialState', async () => {
    const output = await runBatches<Pair, [string, number]>([[['a', 1]], []], (pairs) =>
      pairs.updateStateByKey<number>((values, total = 0) => total + sum(values), { initialState: [['z', 10], ['a', 5]] }),
    );
    expect(output).toEqual([[['z', 10], ['a', 6]], [['z', 10], ['a', 6]]]);
  });

  it('equals a per-key recomputation over random batches, keys removed and added again', async () => {
    for (const seed of [1, 2, 3]) {
      const batches = randomPairBatches(seededRandom(seed), { count: 40, keys: ['a', 'b', 'c', 'd', 'e', 'f'], minValue: 0, maxValue: 9 });
      const output = await runBatches(batches, (pairs) => pairs.updateStateByKey(update));
      const state = new Map<string, number>();
      const expected = batches.map((batch) => {
        for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) {
          const values = batch.filter(([k]) => k === key).map(([, v]) => v);
          if (values.length === 0 && !state.has(key)) continue;
          const next = update(values, state.get(key));
          if (next === undefined) state.delete(key);
          else state.set(key, next);
        }
        return sorted([...state]);
      });
      expect(output.map((batch) => sorted(batch))).toEqual(expected);
    }
  });

  it('is computed every batch even when only a slower window reads it, and without records', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 's', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
    const pairs = queueStream<Pair>(ssc, []);
    const updatedAt: number[] = [];
    const ticks = pairs.updateStateByKey<number>(
      (_values, previous) => {
        updatedAt.push(clock.nowMs());
        return (previous ?? 0) + 1;
      },
      { initialState: [['ticks', 0]] },
    );
    const windows: unknown[] = [];
    ticks.window(2000, 2000).foreachBatch((records) => void windows.push(records));
    await ssc.start();
    const done = waitForBatches(ssc, 4);
    await clock.advance(4000);
    await done;
    await ssc.stop();
    expect(updatedAt).toEqual([1000, 2000, 3000, 4000]);
    expect(windows).toEqual([
      [['ticks', 1], ['ticks', 2]],
      [['ticks', 3], ['ticks', 4]],
    ]);
  });

  it('wraps a throw of update as a RecordProcessingError and rejects a non-function and a bad initialState', async () => {
    const run = runBatches<Pair, [string, number]>([[['a', 1]]], (pairs) =>
      pairs.updateStateByKey<number>(() => {
        throw new Error('boom');
      }),
    );
    await expect(run).rejects.toMatchObject({ name: 'RecordProcessingError', message: 'updateStateByKey threw: boom' });
    const ssc = new StreamingContext({ appName: 's', batchIntervalMs: 1000, clock: new ManualClock(), stopOnSignals: false });
    const pairs = queueStream<Pair>(ssc, []);
    expect(() => pairs.updateStateByKey(7 as never)).toThrow('updateStateByKey(update) must be a function; got 7.');
    expect(() => pairs.updateStateByKey(update, { initialState: 3 as never })).toThrow(ConfigError);
  });
});
