import { runBatches } from '../../testing/runBatches';
import { seededRandom } from '../../testing/seededRandom';

const INTERVAL = 1000;

describe('countByWindow', () => {
  it('counts the records of each window, 0 for an empty one', async () => {
    const output = await runBatches([['a', 'b'], [], ['c'], [], []], (records) => records.countByWindow(2000, 1000));
    expect(output).toEqual([[2], [2], [1], [1], [0]]);
  });

  it.each([
    [3000, 1000],
    [4000, 2000],
    [2000, 3000],
    [5000, 5000],
  ])('equals a recomputation over random batches (window %i, slide %i)', async (windowMs, slideMs) => {
    const random = seededRandom(windowMs * 11 + slideMs);
    const batches = Array.from({ length: 30 }, () => Array.from({ length: random() < 0.3 ? 0 : Math.floor(random() * 5) }, () => 'x'));
    const output = await runBatches(batches, (records) => records.countByWindow(windowMs, slideMs));
    const expected: number[][] = [];
    for (let t = slideMs; t <= batches.length * INTERVAL; t += slideMs) {
      const inWindow = batches.filter((_, index) => (index + 1) * INTERVAL > t - windowMs && (index + 1) * INTERVAL <= t);
      expected.push([inWindow.reduce((sum, batch) => sum + batch.length, 0)]);
    }
    expect(output).toEqual(expected);
  });
});
