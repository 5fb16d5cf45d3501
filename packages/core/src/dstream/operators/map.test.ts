import { runBatches } from '../../testing/runBatches';

describe('map', () => {
  it('replaces every record by what the function returns, batch by batch', async () => {
    expect(await runBatches([[1, 2], [], [3]], (numbers) => numbers.map((n) => `#${n}`))).toEqual([
      ['#1', '#2'],
      [],
      ['#3'],
    ]);
  });
});
