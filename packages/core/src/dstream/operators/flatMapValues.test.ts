import { runBatches } from '../../testing/runBatches';

describe('flatMapValues', () => {
  it('emits one pair per element of the iterable, keeping the key', async () => {
    const output = await runBatches(
      [[['post1', 'a,b'], ['post2', '']], []] as (readonly [string, string])[][],
      (posts) => posts.flatMapValues((tags) => tags.split(',').filter((tag) => tag !== '')),
    );
    expect(output).toEqual([[['post1', 'a'], ['post1', 'b']], []]);
  });

  it('names the failing operator flatMapValues', async () => {
    const run = runBatches([[['a', 1]]] as (readonly [string, number])[][], (pairs) =>
      pairs.flatMapValues(() => {
        throw new Error('bad value');
      }),
    );
    await expect(run).rejects.toThrow('flatMapValues threw: bad value');
  });
});
