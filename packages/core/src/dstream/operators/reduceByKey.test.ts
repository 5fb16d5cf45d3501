import { runBatches } from '../../testing/runBatches';

type Pair = readonly [string, number];

describe('reduceByKey', () => {
  it('reduces the values of each key in first-seen key order, batch by batch', async () => {
    const output = await runBatches<Pair, [string, number]>(
      [[['b', 1], ['a', 2], ['b', 3]], [], [['c', 5]]],
      (pairs) => pairs.reduceByKey((x, y) => x + y),
    );
    expect(output).toEqual([[['b', 4], ['a', 2]], [], [['c', 5]]]);
  });

  it('folds the values of a key in batch order', async () => {
    const output = await runBatches<readonly [string, string], [string, string]>(
      [[['k', 'a'], ['j', 'x'], ['k', 'b'], ['k', 'c']]],
      (pairs) => pairs.reduceByKey((x, y) => `${x}${y}`),
    );
    expect(output).toEqual([[['k', 'abc'], ['j', 'x']]]);
  });

  it('keeps undefined as a reduced value instead of treating the key as new', async () => {
    const seen: unknown[] = [];
    await runBatches<readonly [string, number | undefined], [string, number | undefined]>(
      [[['k', undefined], ['k', 1]]],
      (pairs) =>
        pairs.reduceByKey((x, y) => {
          seen.push([x, y]);
          return y;
        }),
    );
    expect(seen).toEqual([[undefined, 1]]);
  });

  it('wraps a throw of the function as a RecordProcessingError naming reduceByKey', async () => {
    const run = runBatches<Pair, [string, number]>([[['a', 1], ['a', 2]]], (pairs) =>
      pairs.reduceByKey(() => {
        throw new Error('boom');
      }),
    );
    await expect(run).rejects.toMatchObject({ name: 'RecordProcessingError', message: 'reduceByKey threw: boom' });
  });
});
