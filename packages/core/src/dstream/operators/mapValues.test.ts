import { runBatches } from '../../testing/runBatches';

describe('mapValues', () => {
  it('maps each value and keeps its key', async () => {
    const output = await runBatches(
      [[['a', 'x'], ['b', 'yy']], []] as (readonly [string, string])[][],
      (pairs) => pairs.mapValues((text) => text.length),
    );
    expect(output).toEqual([[['a', 1], ['b', 2]], []]);
  });

  it('names the failing operator mapValues', async () => {
    const run = runBatches([[['a', 1]]] as (readonly [string, number])[][], (pairs) =>
      pairs.mapValues(() => {
        throw new Error('bad value');
      }),
    );
    await expect(run).rejects.toThrow('mapValues threw: bad value');
  });
});
