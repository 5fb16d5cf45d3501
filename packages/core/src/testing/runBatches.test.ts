import { DStream } from '../dstream/DStream';
import { RecordProcessingError } from '../errors';
import { StreamingContext } from '../context/StreamingContext';
import { silentLogger } from '../util/Logger';
import { ManualClock } from './ManualClock';
import { queueStream } from './queueStream';
import { runBatches, runBatches2 } from './runBatches';
import { waitForBatches } from './waitForBatches';

/** A one-parent stream computed by `fn`, so these tests need no operator. */
function derive<T, U>(parent: DStream<T>, name: string, fn: (records: readonly T[], time: number) => U[]): DStream<U> {
  return new DStream<U>(parent.context, {
    name,
    slideDurationMs: parent.slideDurationMs,
    dependencies: [parent as DStream<unknown>],
    compute: async (time) => fn(await parent.getOrCompute(time)!, time),
  });
}

describe('runBatches', () => {
  it('returns what the operation produced for each batch', async () => {
    const output = await runBatches([[1, 2], [3], []], (numbers) => derive(numbers, 'times10', (batch) => batch.map((n) => n * 10)));
    expect(output).toEqual([[10, 20], [30], []]);
  });

  it('runs numBatches batches, giving the ones past the input the empty default batch', async () => {
    const times: number[] = [];
    const output = await runBatches(
      [['a']],
      (letters) =>
        derive(letters, 'withTime', (batch, time) => {
          times.push(time);
          return [...batch];
        }),
      { numBatches: 3, batchIntervalMs: 500 },
    );
    expect(output).toEqual([['a'], [], []]);
    expect(times).toEqual([500, 1000, 1500]);
  });

  it('leaves the caller input arrays untouched', async () => {
    const input = [[1], [2]];
    await runBatches(input, (numbers) => numbers);
    expect(input).toEqual([[1], [2]]);
  });

  it('rejects with the error that failed a batch, after the batches before it ran', async () => {
    const seen: number[][] = [];
    const failure = new RecordProcessingError('explode', new Error('bad record 13'));
    const run = runBatches([[1], [13], [2]], (numbers) =>
      derive(numbers, 'explode', (batch) => {
        seen.push([...batch]);
        if (batch.includes(13)) throw failure;
        return [...batch];
      }),
    );
    await expect(run).rejects.toBe(failure);
    expect(seen).toEqual([[1], [13]]);
  });

  it('runBatches2 hands batch k of both inputs to the operation at the same batch time', async () => {
    const output = await runBatches2([[1], [2, 3]], [['x'], []], (numbers, letters) => {
      return new DStream<string>(numbers.context, {
        name: 'zipped',
        slideDurationMs: numbers.slideDurationMs,
        dependencies: [numbers as DStream<unknown>, letters as DStream<unknown>],
        compute: async (time) => {
          const [left, right] = await Promise.all([numbers.getOrCompute(time)!, letters.getOrCompute(time)!]);
          return [`${time}:${left.join(',')}|${right.join(',')}`];
        },
      });
    });
    expect(output).toEqual([['1000:1|x'], ['2000:2,3|']]);
  });

  it('collects only the batches of a stream that slides slower than the interval', async () => {
    const output = await runBatches([[1], [2], [3], [4]], (numbers) => {
      return new DStream<number>(numbers.context, {
        name: 'everySecondBatch',
        slideDurationMs: 2 * numbers.slideDurationMs,
        dependencies: [numbers as DStream<unknown>],
        compute: async (time) => [...(await numbers.getOrCompute(time)!)],
      });
    });
    expect(output).toEqual([[2], [4]]);
  });
});

describe('waitForBatches', () => {
  it('resolves with the BatchInfo of the next batches to complete', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'wait', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
    const stream = queueStream(ssc, [[1, 2], [3]]);
    ssc.registerOutput({ name: 'discard', stream, run: async () => undefined });
    await ssc.start();
    const done = waitForBatches(ssc, 2);
    await clock.advance(2000);
    const infos = await done;
    expect(infos.map((info) => [info.batchTimeMs, info.numRecords])).toEqual([
      [1000, 2],
      [2000, 1],
    ]);
    await ssc.stop();
  });

  it('rejects when the context stops before enough batches complete', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'wait', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
    const stream = queueStream(ssc, [[1]]);
    ssc.registerOutput({ name: 'discard', stream, run: async () => undefined });
    await ssc.start();
    const done = waitForBatches(ssc, 3);
    await clock.advance(1000);
    await ssc.stop();
    await expect(done).rejects.toThrow('stopped after 1 of the 3 batches');
  });
});
