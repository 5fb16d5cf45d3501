import { runBatches } from '../../testing/runBatches';
import { seededRandom } from '../../testing/seededRandom';

const INTERVAL = 1000;
const sorted = (pairs: readonly [string, number][]): [string, number][] => [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : 1));

describe('countByValueAndWindow', () => {
  it('counts each distinct record of the window and drops records whose count fell to 0', async () => {
    const output = await runBatches([['a', 'b', 'a'], ['b'], [], []], (records) => records.countByValueAndWindow(2000));
    expect(output.map(sorted)).toEqual([[['a', 2], ['b', 1]], [['a', 2], ['b', 2]], [['b', 1]], []]);
  });

  it.each([
    [3000, 1000],
    [4000, 2000],
    [2000, 3000],
  ])('equals a recomputation over random batches (window %i, slide %i)', async (windowMs, slideMs) => {
    const random = seededRandom(windowMs * 13 + slideMs);
    const values = ['p', 'q', 'r', 's'];
    const batches = Array.from({ length: 30 }, () =>
      Array.from({ length: random() < 0.3 ? 0 : 1 + Math.floor(random() * 5) }, () => values[Math.floor(random() * values.length)]),
    );
    const output = await runBatches(batches, (records) => records.countByValueAndWindow(windowMs, slideMs));
    const expected: [string, number][][] = [];
    for (let t = slideMs; t <= batches.length * INTERVAL; t += slideMs) {
      const counts = new Map<string, number>();
      batches
        .filter((_, index) => (index + 1) * INTERVAL > t - windowMs && (index + 1) * INTERVAL <= t)
        .flat()
        .forEach((value) => counts.set(value, (counts.get(value) ?? 0) + 1));
      expected.push(sorted([...counts]));
    }
    expect(output.map(sorted)).toEqual(expected);
  });
});
