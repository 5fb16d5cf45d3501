import { runBatches } from '../../testing/runBatches';
import { randomPairBatches, seededRandom } from '../../testing/seededRandom';

const INTERVAL = 1000;

describe('groupByKeyAndWindow', () => {
  it('groups the values of each key over the window, oldest first', async () => {
    const output = await runBatches<readonly [string, number], [string, number[]]>(
      [[['a', 1], ['b', 2]], [['a', 3]], []],
      (pairs) => pairs.groupByKeyAndWindow(2000),
    );
    expect(output).toEqual([[['a', [1]], ['b', [2]]], [['a', [1, 3]], ['b', [2]]], [['a', [3]]]]);
  });

  it.each([
    [3000, 1000],
    [4000, 2000],
    [2000, 3000],
  ])('equals a recomputation over random batches (window %i, slide %i)', async (windowMs, slideMs) => {
    const batches = randomPairBatches(seededRandom(windowMs * 17 + slideMs), { count: 25, keys: ['a', 'b', 'c'], minValue: 0, maxValue: 99 });
    const output = await runBatches(batches, (pairs) => pairs.groupByKeyAndWindow(windowMs, slideMs));
    const expected: [string, number[]][][] = [];
    for (let t = slideMs; t <= batches.length * INTERVAL; t += slideMs) {
      const groups = new Map<string, number[]>();
      for (const [key, value] of batches.filter((_, index) => (index + 1) * INTERVAL > t - windowMs && (index + 1) * INTERVAL <= t).flat()) {
        groups.set(key, [...(groups.get(key) ?? []), value]);
      }
      expected.push([...groups]);
    }
    expect(output).toEqual(expected);
  });
});
