import { runBatches } from '../../testing/runBatches';

describe('groupByKey', () => {
  it('groups the values of each key in batch order, keys in first-seen order', async () => {
    const output = await runBatches<readonly [string, number], [string, number[]]>(
      [[['b', 1], ['a', 2], ['b', 3]], []],
      (pairs) => pairs.groupByKey(),
    );
    expect(output).toEqual([[['b', [1, 3]], ['a', [2]]], []]);
  });

  it('treats equal-looking object keys as different keys', async () => {
    const output = await runBatches<readonly [object, number], [object, number[]]>(
      [[[{ id: 1 }, 1], [{ id: 1 }, 2]]],
      (pairs) => pairs.groupByKey(),
    );
    expect(output[0]).toHaveLength(2);
  });
});
