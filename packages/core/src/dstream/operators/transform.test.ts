import { runBatches } from '../../testing/runBatches';

describe('transform', () => {
  it('replaces each batch by what the function returns, given the batch time', async () => {
    const output = await runBatches([[3, 1, 2], []], (numbers) =>
      numbers.transform((records, time) => [...records].sort().map((n) => `${time}:${n}`)),
    );
    expect(output).toEqual([['1000:1', '1000:2', '1000:3'], []]);
  });

  it('awaits an asynchronous function and accepts any iterable', async () => {
    const output = await runBatches([['a', 'b', 'a']], (letters) =>
      letters.transform(async (records) => new Set(records)),
    );
    expect(output).toEqual([['a', 'b']]);
  });

  it('wraps a rejection as a RecordProcessingError naming transform', async () => {
    const run = runBatches([[1]], (numbers) =>
      numbers.transform(async () => {
        throw new Error('lookup failed');
      }),
    );
    await expect(run).rejects.toMatchObject({ name: 'RecordProcessingError', message: 'transform threw: lookup failed' });
  });

  it('fails the batch when the function returns something that is not iterable', async () => {
    const run = runBatches([[1]], (numbers) => numbers.transform(() => 42 as unknown as number[]));
    await expect(run).rejects.toThrow(/^transform threw: /);
  });
});
