import type { BatchContext } from '../../context/types';
import { runBatches } from '../../testing/runBatches';

describe('foreachBatch', () => {
  it('hands every batch, empty ones included, to the function with its time and offset ranges', async () => {
    const seen: [readonly string[], BatchContext][] = [];
    await runBatches([['a', 'b'], [], ['c']], (letters) => {
      letters.map((letter) => letter.toUpperCase()).foreachBatch((records, batch) => void seen.push([records, batch]));
      return letters;
    });
    expect(seen).toEqual([
      [['A', 'B'], { time: 1000, offsetRanges: [], transaction: undefined }],
      [[], { time: 2000, offsetRanges: [], transaction: undefined }],
      [['C'], { time: 3000, offsetRanges: [], transaction: undefined }],
    ]);
  });

  it('waits for the promise the function returns before the batch completes', async () => {
    const events: string[] = [];
    await runBatches([[1], [2]], (numbers) => {
      numbers.foreachBatch(async (records) => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        events.push(`written ${records.join()}`);
      });
      numbers.foreachBatch((records) => void events.push(`next output ${records.join()}`));
      return numbers;
    });
    expect(events).toEqual(['written 1', 'next output 1', 'written 2', 'next output 2']);
  });

  it('fails the batch with the error the function threw, unchanged', async () => {
    const failure = Object.assign(new Error('sink down'), { retriable: true });
    const run = runBatches([[1]], (numbers) => {
      numbers.foreachBatch(() => {
        throw failure;
      });
      return numbers;
    });
    await expect(run).rejects.toBe(failure);
  });
});
