import { runBatches } from '../../testing/runBatches';

describe('countByValue', () => {
  it('counts each distinct record in first-seen order', async () => {
    expect(await runBatches([['b', 'a', 'b', 'b'], []], (letters) => letters.countByValue())).toEqual([
      [
        ['b', 3],
        ['a', 1],
      ],
      [],
    ]);
  });

  it('compares objects by identity and numbers by value', async () => {
    const shared = { id: 1 };
    const output = await runBatches([[shared, { id: 1 }, shared]], (objects) => objects.countByValue());
    expect(output[0].map(([, n]) => n)).toEqual([2, 1]);
    expect(output[0][0][0]).toBe(shared);
    expect(await runBatches([[NaN, NaN, 0, -0]], (numbers) => numbers.countByValue())).toEqual([
      [
        [NaN, 2],
        [0, 2],
      ],
    ]);
  });
});
