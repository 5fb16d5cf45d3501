import { map as rxMap, scan } from 'rxjs';
import { runBatches } from '../../testing/runBatches';
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
});
