import { runBatches } from '../../testing/runBatches';

describe('filter', () => {
  it('keeps the records the predicate accepts, in order', async () => {
    expect(await runBatches([[1, 2, 3, 4], [], [5]], (numbers) => numbers.filter((n) => n % 2 === 1))).toEqual([
      [1, 3],
      [],
      [5],
    ]);
  });

  it('narrows the record type with a type guard', async () => {
    const output = await runBatches([[1, 'a', 2]], (mixed) =>
      mixed.filter((value): value is number => typeof value === 'number').map((n) => n.toFixed(1)),
    );
    expect(output).toEqual([['1.0', '2.0']]);
  });
});
