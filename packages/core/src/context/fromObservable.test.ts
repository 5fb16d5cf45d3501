import { Observable, Subject, from, map } from 'rxjs';
import { ConfigError } from '../errors';
import type { BatchInfo } from '../scheduler/events';
import { ManualClock } from '../testing/ManualClock';
import { waitForBatches } from '../testing/waitForBatches';
import { silentLogger } from '../util/Logger';
import { type ObservableStreamOptions, fromObservable } from './fromObservable';
import { StreamingContext } from './StreamingContext';

const INTERVAL_MS = 1000;

/** A context on a ManualClock whose only input is `source`, recording each batch's records. */
async function startWith<T>(source: Observable<T>, options?: ObservableStreamOptions) {
  const clock = new ManualClock();
  const ssc = new StreamingContext({
    appName: 'observable',
    batchIntervalMs: INTERVAL_MS,
    clock,
    stopOnSignals: false,
    logger: silentLogger,
  });
  const stream = ssc.observableStream(source, options);
  const batches: T[][] = [];
  const infos: BatchInfo[] = [];
  ssc.addStreamingListener({ onBatchCompleted: ({ info }) => void infos.push(info) });
  stream.foreachBatch((records) => void batches.push([...records]));
  await ssc.start();
  /** Moves the clock to the next batch time and waits for that batch to complete. */
  const tick = async (): Promise<void> => {
    const completed = waitForBatches(ssc, 1);
    await clock.advance(INTERVAL_MS);
    await completed;
  };
  return { ssc, clock, batches, infos, tick };
}

describe('fromObservable', () => {
  it('makes each batch of the values emitted since the previous tick, in emission order', async () => {
    const events = new Subject<string>();
    const { ssc, batches, infos, tick } = await startWith(events);
    events.next('a');
    events.next('b');
    await tick();
    await tick();
    events.next('c');
    await tick();
    await ssc.stop();
    expect(batches).toEqual([['a', 'b'], [], ['c']]);
    expect(infos.map((info) => [info.numRecords, info.offsetRanges])).toEqual([
      [2, []],
      [0, []],
      [1, []],
    ]);
  });

  it('subscribes at start, so a cold Observable fills the first batch, and unsubscribes at stop', async () => {
    let subscriptions = 0;
    let unsubscriptions = 0;
    const counted = new Observable<number>((subscriber) => {
      subscriptions += 1;
      const inner = from([1, 2, 3]).subscribe(subscriber);
      return () => {
        unsubscriptions += 1;
        inner.unsubscribe();
      };
    });
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'cold', batchIntervalMs: INTERVAL_MS, clock, stopOnSignals: false, logger: silentLogger });
    const stream = fromObservable(ssc, counted);
    const batches: number[][] = [];
    stream.foreachBatch((records) => void batches.push([...records]));
    expect(subscriptions).toBe(0);
    await ssc.start();
    expect(subscriptions).toBe(1);
    const completed = waitForBatches(ssc, 1);
    await clock.advance(INTERVAL_MS);
    await completed;
    await ssc.stop();
    expect(batches).toEqual([[1, 2, 3]]);
    expect(unsubscriptions).toBe(1);
  });

  it('ends the input on completion: what came before is the next batch, later batches are empty', async () => {
    const events = new Subject<number>();
    const completions: number[] = [];
    const { ssc, clock, batches, tick } = await startWith(events, {
      onComplete: (timeMs) => void completions.push(timeMs),
    });
    events.next(1);
    await tick();
    events.next(2);
    events.complete();
    expect(completions).toEqual([]);
    await tick();
    await tick();
    await ssc.stop();
    expect(batches).toEqual([[1], [2], []]);
    // Called once, with the time of the batch that took the last values.
    expect(completions).toEqual([ssc.zeroTimeMs + 2 * INTERVAL_MS]);
    expect(clock.nowMs()).toBe(ssc.zeroTimeMs + 3 * INTERVAL_MS);
  });

  it('lets onComplete stop the context gracefully, after the last batch ran', async () => {
    const events = new Subject<string>();
    let ssc!: StreamingContext;
    const started = await startWith(events, { onComplete: () => void ssc.stop() });
    ssc = started.ssc;
    events.next('last');
    events.complete();
    await started.clock.advance(INTERVAL_MS);
    await ssc.awaitTermination();
    expect(ssc.state).toBe('stopped');
    expect(started.batches).toEqual([['last']]);
  });

  it('stops the context at the next tick when the Observable errors, with that error as cause', async () => {
    const events = new Subject<number>();
    const { ssc, clock, batches } = await startWith(events.pipe(map((n) => n * 10)));
    events.next(1);
    const failure = new Error('socket closed');
    events.error(failure);
    await clock.advance(INTERVAL_MS);
    await expect(ssc.awaitTermination()).rejects.toMatchObject({
      name: 'DStreamError',
      message: expect.stringContaining("observableStream's Observable errored: socket closed"),
      cause: failure,
    });
    expect(batches).toEqual([]);
  });

  it('refuses a source that is not an Observable and an onComplete that is not a function', () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'bad', batchIntervalMs: INTERVAL_MS, clock, stopOnSignals: false, logger: silentLogger });
    expect(() => fromObservable(ssc, [1, 2] as never)).toThrow(ConfigError);
    expect(() => fromObservable(ssc, [1, 2] as never)).toThrow(/observableStream source must be an RxJS Observable; got \[1,2\]/);
    expect(() => ssc.observableStream(from([1]), { onComplete: 'stop' as never })).toThrow(
      'observableStream onComplete must be a function; got "stop".',
    );
  });
});
