import { runBatches } from '../../testing/runBatches';
import { seededRandom } from '../../testing/seededRandom';

const INTERVAL = 1000;

function randomBatches(seed: number, count: number): number[][] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => (random() < 0.3 ? [] : Array.from({ length: 1 + Math.floor(random() * 4) }, () => Math.floor(random() * 20) - 5)));
}

function windowsOf(batches: readonly number[][], windowMs: number, slideMs: number): number[][] {
  const windows: number[][] = [];
  for (let t = slideMs; t <= batches.length * INTERVAL; t += slideMs) {
    windows.push(batches.filter((_, index) => (index + 1) * INTERVAL > t - windowMs && (index + 1) * INTERVAL <= t).flat());
  }
  return windows;
}

describe('reduceByWindow', () => {
  it('folds the window into one record, none for an empty window', async () => {
    const output = await runBatches([[1, 2], [], [], [4]], (numbers) => numbers.reduceByWindow((a, b) => a + b, 2000, 1000));
    expect(output).toEqual([[3], [3], [], [4]]);
  });

  it.each([
    [3000, 1000],
    [4000, 2000],
    [2000, 3000],
  ])('equals a recomputation over random batches, with and without invFunc (window %i, slide %i)', async (windowMs, slideMs) => {
    const batches = randomBatches(windowMs + slideMs, 30);
    const windows = windowsOf(batches, windowMs, slideMs);
    const concat = await runBatches(
      batches.map((batch) => batch.map(String)),
      (numbers) => numbers.reduceByWindow((a, b) => a + b, windowMs, slideMs),
    );
    expect(concat).toEqual(windows.map((window) => (window.length === 0 ? [] : [window.join('')])));
    const incremental = await runBatches(batches, (numbers) =>
      numbers.reduceByWindow((a, b) => a + b, windowMs, slideMs, (a, b) => a - b),
    );
    // As Spark: once a record was in a window, every later window has a value (0 when empty).
    let hasValue = false;
    expect(incremental).toEqual(
      windows.map((window) => {
        hasValue ||= window.length > 0;
        return hasValue ? [window.reduce((a, b) => a + b, 0)] : [];
      }),
    );
  });
});
