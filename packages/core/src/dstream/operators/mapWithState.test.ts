import { StreamingContext } from '../../context/StreamingContext';
import { ConfigError } from '../../errors';
import type { State } from '../../state/State';
import { StateSpec } from '../../state/StateSpec';
import { ManualClock } from '../../testing/ManualClock';
import { queueStream } from '../../testing/queueStream';
import { randomPairBatches, seededRandom } from '../../testing/seededRandom';
import { waitForBatches } from '../../testing/waitForBatches';
import { silentLogger } from '../../util/Logger';

type Pair = readonly [string, number];

/** Runs `spec` over `batches` (1 s apart, first at 1000) and collects the mapped records and state snapshots. */
async function runMapWithState<S, M>(
  batches: readonly (readonly Pair[])[],
  spec: StateSpec<string, number, S, M>,
  numBatches = batches.length,
): Promise<{ mapped: M[][]; snapshots: [string, S][][] }> {
  const clock = new ManualClock();
  const ssc = new StreamingContext({ appName: 'mws', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
  const pairs = queueStream<Pair>(ssc, batches.map((batch) => [...batch]));
  const stateful = pairs.mapWithState(spec);
  const mapped: M[][] = [];
  const snapshots: [string, S][][] = [];
  stateful.foreachBatch((records) => void mapped.push([...records]));
  stateful.stateSnapshots().foreachBatch((records) => void snapshots.push([...records]));
  await ssc.start();
  let failure: Error | undefined;
  for (let batch = 0; batch < numBatches && failure === undefined; batch++) {
    const done = waitForBatches(ssc, 1);
    await clock.advance(1000);
    [{ failure }] = await done;
  }
  await ssc.stop();
  if (failure !== undefined) throw failure;
  return { mapped, snapshots };
}

const sorted = <T>(values: readonly T[]): T[] => [...values].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

const runningTotal = StateSpec.function((key: string, value: number | undefined, state: State<number>) => {
  const total = (state.getOption() ?? 0) + (value ?? 0);
  state.update(total);
  return [key, total] as const;
});

describe('mapWithState', () => {
  it('maps every record with its key state and snapshots every key state after each batch', async () => {
    const { mapped, snapshots } = await runMapWithState([[['a', 1], ['b', 2], ['a', 3]], [], [['b', 1]]], runningTotal);
    expect(mapped).toEqual([[['a', 1], ['b', 2], ['a', 4]], [], [['b', 3]]]);
    expect(snapshots).toEqual([[['a', 4], ['b', 2]], [['a', 4], ['b', 2]], [['a', 4], ['b', 3]]]);
  });

  it('starts from initialState and leaves out undefined results', async () => {
    const spec = StateSpec.function((_key: string, value: number | undefined, state: State<number>) => {
      state.update(state.get() + value!);
      return undefined;
    }).initialState([['a', 10]]);
    const { mapped, snapshots } = await runMapWithState([[['a', 1]]], spec);
    expect(mapped).toEqual([[]]);
    expect(snapshots).toEqual([[['a', 11]]]);
  });

  it('times out a key idle longer than the timeout: one call with undefined and isTimingOut, then the key is gone', async () => {
    const calls: string[] = [];
    const spec = StateSpec.function((key: string, value: number | undefined, state: State<number>) => {
      calls.push(`${key}:${value}:${state.isTimingOut()}:${state.getOption()}`);
      if (!state.isTimingOut()) state.update((state.getOption() ?? 0) + value!);
      return key;
    }).timeout(2000);
    // a at 1000, b at 1000 and 3000: a times out at 4000 (1000 < 4000 - 2000), b at 6000.
    const { mapped, snapshots } = await runMapWithState([[['a', 1], ['b', 1]], [], [['b', 2]], [], [], []], spec);
    expect(calls).toEqual(['a:1:false:undefined', 'b:1:false:undefined', 'b:2:false:1', 'a:undefined:true:1', 'b:undefined:true:3']);
    expect(mapped).toEqual([['a', 'b'], [], ['b'], ['a'], [], ['b']]);
    expect(snapshots.map((snapshot) => snapshot.map(([key]) => key))).toEqual([['a', 'b'], ['a', 'b'], ['a', 'b'], ['b'], ['b'], []]);
  });

  it('refreshes a key on every record under a timeout, even when the function does not update it', async () => {
    const spec = StateSpec.function((key: string, _value: number | undefined, state: State<number>) => {
      if (!state.exists()) state.update(0);
      return state.isTimingOut() ? `${key} out` : undefined;
    }).timeout(1000);
    const { mapped } = await runMapWithState([[['a', 1]], [['a', 1]], [['a', 1]], [], []], spec);
    expect(mapped).toEqual([[], [], [], [], ['a out']]);
  });

  it('stamps initial state with the first batch time for timeouts', async () => {
    const spec = StateSpec.function((key: string, _value: number | undefined, state: State<number>) =>
      state.isTimingOut() ? key : undefined,
    )
      .initialState([['z', 1]])
      .timeout(1000);
    const { mapped } = await runMapWithState([[], [], []], spec);
    expect(mapped).toEqual([[], [], ['z']]);
  });

  it('times out restored keys by their stored update times, whatever order they are restored in', async () => {
    const clock = new ManualClock(3000);
    const ssc = new StreamingContext({ appName: 'mws', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
    const pairs = queueStream<Pair>(ssc, []);
    const ended = pairs.mapWithState(
      StateSpec.function((key: string, _value: number | undefined, state: State<number>) => (state.isTimingOut() ? `${key}:${state.get()}` : undefined)).timeout(1000),
    );
    const mapped: (string | undefined)[][] = [];
    ended.foreachBatch((records) => void mapped.push([...records]));
    ssc.stateOperators[0].restore([
      ['b', { state: 2, updatedMs: 3000 }],
      ['a', { state: 1, updatedMs: 1000 }],
    ]);
    await ssc.start();
    const done = waitForBatches(ssc, 2);
    await clock.advance(2000);
    await done;
    await ssc.stop();
    expect(mapped).toEqual([['a:1'], ['b:2']]);
  });

  it('refuses update and remove on a timing-out key, update after remove, and get without state', async () => {
    const cases: [string, (state: State<number>, value: number | undefined) => void, string][] = [
      ['update while timing out', (state, value) => (value === undefined ? state.update(1) : state.update(value)), 'cannot update the state of a key that is timing out'],
      ['remove while timing out', (state, value) => (value === undefined ? state.remove() : state.update(value)), 'cannot remove the state of a key that is timing out'],
      ['update after remove', (state) => { state.remove(); state.update(2); }, 'cannot update the state after it has been removed'],
      ['get without state', (state) => void state.get(), 'State.get() on a key without state'],
    ];
    for (const [, body, message] of cases) {
      const spec = StateSpec.function((_key: string, value: number | undefined, state: State<number>) => body(state, value)).timeout(1000);
      await expect(runMapWithState([[['a', 1]], [], [], []], spec)).rejects.toMatchObject({
        name: 'RecordProcessingError',
        message: expect.stringContaining(message),
      });
    }
  });

  it.each([undefined, 1000, 2000, 3000])('equals a per-key model over random batches (timeout %s ms)', async (timeoutMs) => {
    const batches = randomPairBatches(seededRandom(timeoutMs ?? 7), { count: 40, keys: ['a', 'b', 'c', 'd', 'e'], minValue: 0, maxValue: 9, emptyRatio: 0.35 });
    const fn = (key: string, value: number | undefined, state: State<number>): string => {
      if (state.isTimingOut()) return `${key} timed out at ${state.get()}`;
      if (value === 0) {
        if (state.exists()) state.remove();
        return `${key} removed`;
      }
      if (value! % 4 === 1) return `${key} seen ${state.getOption()}`;
      const next = (state.getOption() ?? 0) + value!;
      state.update(next);
      return `${key}=${next}`;
    };
    let spec = StateSpec.function(fn);
    if (timeoutMs !== undefined) spec = spec.timeout(timeoutMs);
    const { mapped, snapshots } = await runMapWithState(batches, spec);

    const model = new Map<string, { state: number; updatedMs: number }>();
    const expectedMapped: string[][] = [];
    const expectedSnapshots: [string, number][][] = [];
    batches.forEach((batch, index) => {
      const time = (index + 1) * 1000;
      const out: string[] = [];
      for (const [key, value] of batch) {
        const entry = model.get(key);
        if (value === 0) {
          model.delete(key);
          out.push(`${key} removed`);
        } else if (value % 4 === 1) {
          out.push(`${key} seen ${entry?.state}`);
          if (entry !== undefined && timeoutMs !== undefined) entry.updatedMs = time;
        } else {
          const next = (entry?.state ?? 0) + value;
          model.set(key, { state: next, updatedMs: time });
          out.push(`${key}=${next}`);
        }
      }
      const timedOut: string[] = [];
      if (timeoutMs !== undefined) {
        for (const [key, entry] of [...model]) {
          if (entry.updatedMs < time - timeoutMs) {
            timedOut.push(`${key} timed out at ${entry.state}`);
            model.delete(key);
          }
        }
      }
      expectedMapped.push([...out, ...sorted(timedOut)]);
      expectedSnapshots.push(sorted([...model].map(([key, entry]): [string, number] => [key, entry.state])));
    });
    // Records come out in record order; timed-out keys after them (compared as a set).
    const normalized = mapped.map((batch, index) => {
      const records = batches[index].length;
      return [...batch.slice(0, records), ...sorted(batch.slice(records))];
    });
    expect(normalized).toEqual(expectedMapped);
    expect(snapshots.map((snapshot) => sorted(snapshot))).toEqual(expectedSnapshots);
  });

  it('rejects a spec that is not a StateSpec and bad spec values', () => {
    const ssc = new StreamingContext({ appName: 'mws', batchIntervalMs: 1000, clock: new ManualClock(), stopOnSignals: false });
    const pairs = queueStream<Pair>(ssc, []);
    expect(() => pairs.mapWithState({} as never)).toThrow('mapWithState(spec) must be a StateSpec; got {}.');
    expect(() => StateSpec.function(3 as never)).toThrow('StateSpec.function(fn) must be a function; got 3.');
    expect(() => runningTotal.timeout(0)).toThrow(ConfigError);
    expect(() => runningTotal.initialState(5 as never)).toThrow('StateSpec.initialState(pairs) must be an iterable of [key, state] pairs');
  });
});
