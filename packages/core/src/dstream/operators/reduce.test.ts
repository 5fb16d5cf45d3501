import { runBatches } from '../../testing/runBatches';

describe('reduce', () => {
  it('folds each batch into one record and emits nothing for an empty batch', async () => {
    expect(await runBatches([[1, 2, 3], [], [7]], (numbers) => numbers.reduce((a, b) => a + b))).toEqual([[6], [], [7]]);
  });

  it('folds left to right', async () => {
    expect(await runBatches([['a', 'b', 'c']], (letters) => letters.reduce((a, b) => `(${a}${b})`))).toEqual([
      ['((ab)c)'],
    ]);
  });

  it('names the record being folded when the function throws', async () => {
    const records = [1, 2].map((offset) => ({ topic: 'amounts', partition: 0, offset, value: offset }));
    const run = runBatches([records], (stream) =>
      stream.reduce(() => {
        throw new Error('overflow');
      }),
    );
    await expect(run).rejects.toMatchObject({ offset: 2, message: 'reduce threw at amounts-0 offset 2: overflow' });
  });
});
