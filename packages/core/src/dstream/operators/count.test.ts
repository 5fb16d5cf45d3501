import { runBatches } from '../../testing/runBatches';

describe('count', () => {
  it('emits one count per batch, 0 for an empty batch', async () => {
    expect(await runBatches([['a', 'b', 'c'], [], ['d']], (letters) => letters.count())).toEqual([[3], [0], [1]]);
  });
});
