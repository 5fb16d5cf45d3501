import { runBatches, runBatches2 } from '../../testing/runBatches';

describe('union', () => {
  it('concatenates the batches of both streams, this stream first', async () => {
    const output = await runBatches2([[1, 2], [], [3]], [[10], [20], []], (left, right) => left.union(right));
    expect(output).toEqual([[1, 2, 10], [20], [3]]);
  });

  it('merges several streams in argument order', async () => {
    const output = await runBatches([[1, 2]], (numbers) =>
      numbers.union(numbers.map((n) => n * 10), numbers.map((n) => n * 100)),
    );
    expect(output).toEqual([[1, 2, 10, 20, 100, 200]]);
  });
});
