import { StreamingContext } from '../../context/StreamingContext';
import { ConfigError } from '../../errors';
import { ManualClock } from '../../testing/ManualClock';
import { queueStream } from '../../testing/queueStream';
import { runBatches } from '../../testing/runBatches';
import { randomPairBatches, seededRandom } from '../../testing/seededRandom';
import { waitForBatches } from '../../testing/waitForBatches';
import { silentLogger } from '../../util/Logger';

const INTERVAL = 1000;

/** The batches of `(t - windowMs, t]`, with batch i at time (i + 1) * INTERVAL (zero time 0). */
function batchesInWindow<T>(batches: readonly (readonly T[])[], t: number, windowMs: number): (readonly T[])[] {
  return batches.filter((_, index) => (index + 1) * INTERVAL > t - windowMs && (index + 1) * INTERVAL <= t);
}

/** The window times of `count` batches with slide `slideMs`. */
function windowTimes(count: number, slideMs: number): number[] {
  const times: number[] = [];
  for (let t = slideMs; t <= count * INTERVAL; t += slideMs) times.push(t);
  return times;
}

describe('window', () => {
  it('holds the batches of (t - window, t], the first windows shorter since the window starts at zero time', async () => {
    const output = await runBatches([[1], [2], [3], [4], [5], [6]], (numbers) => numbers.window(3000, 2000));
    expect(output).toEqual([[1, 2], [2, 3, 4], [4, 5, 6]]);
  });

  it('slides every batch by default', async () => {
    const output = await runBatches([[1], [], [3]], (numbers) => numbers.window(2000));
    expect(output).toEqual([[1], [1], [3]]);
  });

  it.each([
    [3000, 1000],
    [4000, 2000],
    [2000, 3000],
    [6000, 3000],
    [1000, 1000],
  ])('equals a recomputation over random batches (window %i ms, slide %i ms)', async (windowMs, slideMs) => {
    const batches = randomPairBatches(seededRandom(windowMs * 7 + slideMs), { count: 25, keys: ['a', 'b', 'c'], minValue: 0, maxValue: 9 });
    const output = await runBatches(batches, (pairs) => pairs.window(windowMs, slideMs));
    const expected = windowTimes(batches.length, slideMs).map((t) => batchesInWindow(batches, t, windowMs).flat());
    expect(output).toEqual(expected);
  });

  it('windows a window: durations are multiples of the inner window slide', async () => {
    const output = await runBatches([[1], [2], [3], [4], [5], [6], [7], [8]], (numbers) =>
      numbers.window(2000, 2000).window(4000, 4000),
    );
    expect(output).toEqual([[1, 2, 3, 4], [5, 6, 7, 8]]);
  });

  it('rejects durations that are not positive multiples of the parent slide, naming both values', () => {
    const ssc = new StreamingContext({ appName: 'w', batchIntervalMs: INTERVAL, clock: new ManualClock(), stopOnSignals: false });
    const numbers = queueStream<number>(ssc, []);
    expect(() => numbers.window(2500, 1000)).toThrow(ConfigError);
    expect(() => numbers.window(2500, 1000)).toThrow(
      "window(windowMs) must be a positive multiple of the parent stream's slide duration (1000 ms); got 2500. Pass a whole number of parent batches, e.g. windowMs: 3000.",
    );
    expect(() => numbers.window(3000, 0)).toThrow("window(slideMs) must be a positive multiple of the parent stream's slide duration (1000 ms); got 0.");
    expect(() => numbers.window(4000, 2000).window(3000, 2000)).toThrow('(2000 ms); got 3000');
  });

  it('makes its parent remember the window and frees each batch once no window needs it', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'w', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
    const queue = Array.from({ length: 12 }, (_, index) => [index]);
    const numbers = queueStream<number>(ssc, queue);
    const doubled = numbers.map((n) => n * 2);
    const windowed = doubled.window(3000, 1000);
    expect(windowed.rememberDurationMs).toBe(1000);
    // Spark's rule: the parent keeps its batches for the window's remember duration plus the window.
    expect(doubled.rememberDurationMs).toBe(4000);
    expect(numbers.rememberDurationMs).toBe(4000);
    const remembered: number[][] = [];
    windowed.foreachBatch(() => void remembered.push(doubled.rememberedBatchTimesMs));
    await ssc.start();
    const done = waitForBatches(ssc, 12);
    await clock.advance(12 * INTERVAL);
    await done;
    await ssc.stop();
    // Read while batch t runs: batches before t - 4000 were cleared after earlier batches.
    expect(remembered[11]).toEqual([8000, 9000, 10000, 11000, 12000]);
    expect(doubled.rememberedBatchTimesMs).toEqual([9000, 10000, 11000, 12000]);
    expect(Math.max(...remembered.map((times) => times.length))).toBe(5);
  });

  it('frees a batch nothing remembers longer than its slide as soon as that batch completed', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'w', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
    const numbers = queueStream<number>(ssc, [[1], [2], [3]]);
    const doubled = numbers.map((n) => n * 2);
    const remembered: number[][] = [];
    doubled.foreachBatch(() => void remembered.push(numbers.rememberedBatchTimesMs));
    await ssc.start();
    const done = waitForBatches(ssc, 3);
    await clock.advance(3 * INTERVAL);
    await done;
    await ssc.stop();
    // While batch t runs only batch t is held: the previous one was freed when it completed.
    expect(remembered).toEqual([[1000], [2000], [3000]]);
    expect(numbers.rememberedBatchTimesMs).toEqual([]);
  });

  it('computes its parent at every batch, also between slides, so each batch is read while current', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'w', batchIntervalMs: INTERVAL, clock, stopOnSignals: false, logger: silentLogger });
    const computedAt: number[] = [];
    const numbers = queueStream<number>(ssc, [[1], [2], [3], [4]]).map((n) => {
      computedAt.push(clock.nowMs());
      return n;
    });
    const windows: number[][] = [];
    numbers.window(2000, 2000).foreachBatch((records) => void windows.push([...records]));
    await ssc.start();
    const done = waitForBatches(ssc, 4);
    await clock.advance(4 * INTERVAL);
    await done;
    await ssc.stop();
    expect(computedAt).toEqual([1000, 2000, 3000, 4000]);
    expect(windows).toEqual([[1, 2], [3, 4]]);
  });
});
