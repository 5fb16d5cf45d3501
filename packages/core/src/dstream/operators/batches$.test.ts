import { map as rxMap, scan } from 'rxjs';
import { StreamingContext } from '../../context/StreamingContext';
import { RecordingInput } from '../../testing/RecordingInput';
import { queueStream } from '../../testing/queueStream';
import { runBatches } from '../../testing/runBatches';
import { silentLogger } from '../../util/Logger';
import type { Batch } from './batches$';

describe('batches$', () => {
  it('emits every batch with its time, records and offset ranges to subscribers', async () => {
    const emitted: Batch<number>[] = [];
    await runBatches([[1, 2], [], [3]], (numbers) => {
      numbers.map((n) => n * 2).batches$().subscribe((batch) => emitted.push(batch));
      return numbers;
    });
    expect(emitted).toEqual([
      { time: 1000, records: [2, 4], offsetRanges: [] },
      { time: 2000, records: [], offsetRanges: [] },
      { time: 3000, records: [6], offsetRanges: [] },
    ]);
  });

  it('feeds RxJS pipelines, e.g. a running total across batches', async () => {
    const totals: number[] = [];
    await runBatches([['a'], [], ['b', 'c']], (letters) => {
      letters
        .batches$()
        .pipe(
          rxMap(({ records }) => records.length),
          scan((total, size) => total + size, 0),
        )
        .subscribe((total) => totals.push(total));
      return letters;
    });
    expect(totals).toEqual([1, 1, 3]);
  });

  it('completes after the last batch once the context stops cleanly', async () => {
    const notifications: string[] = [];
    await runBatches([[1], [2]], (numbers) => {
      numbers.batches$().subscribe({
        next: (batch) => notifications.push(`batch ${batch.time}`),
        complete: () => notifications.push('complete'),
        error: () => notifications.push('error'),
      });
      return numbers;
    });
    expect(notifications).toEqual(['batch 1000', 'batch 2000', 'complete']);
  });

  it('errors with the error of the failed batch that stopped the context', async () => {
    const failure = new Error('sink down');
    const notifications: unknown[] = [];
    const run = runBatches([[1], [2]], (numbers) => {
      numbers.batches$().subscribe({
        next: (batch) => notifications.push(`batch ${batch.time}`),
        complete: () => notifications.push('complete'),
        error: (error: unknown) => notifications.push(error),
      });
      numbers.foreachBatch(() => {
        throw failure;
      });
      return numbers;
    });
    await expect(run).rejects.toBe(failure);
    expect(notifications).toEqual(['batch 1000', failure]);
  });

  it('errors with the error of an input that failed to start', async () => {
    const failure = new Error('broker unreachable');
    const ssc = newContext();
    ssc.registerInput(new RecordingInput('kafka', { start: () => Promise.reject(failure) }));
    const errors: unknown[] = [];
    queueStream<number>(ssc, [])
      .batches$()
      .subscribe({ error: (error: unknown) => errors.push(error) });
    await expect(ssc.start()).rejects.toBe(failure);
    await expect(ssc.awaitTermination()).rejects.toBe(failure);
    expect(errors).toEqual([failure]);
  });

  it('completes when the context is stopped before it started', async () => {
    const ssc = newContext();
    let isComplete = false;
    queueStream<number>(ssc, [[1]])
      .batches$()
      .subscribe({ complete: () => (isComplete = true) });
    await ssc.stop();
    await ssc.awaitTermination();
    expect(isComplete).toBe(true);
  });
});

function newContext(): StreamingContext {
  return new StreamingContext({ appName: 'batches$', batchIntervalMs: 1000, stopOnSignals: false, logger: silentLogger });
}
