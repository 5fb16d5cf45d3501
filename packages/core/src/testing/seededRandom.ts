/**
 * A seeded pseudo-random generator (mulberry32) returning numbers in [0, 1): the same seed gives
 * the same sequence, so randomized tests fail the same way every run.
 *
 * @example
 * const random = seededRandom(42);
 * const batch = Array.from({ length: Math.floor(random() * 5) }, () => Math.floor(random() * 10));
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` batches of random `[key, value]` pairs for operator tests: keys from `keys`, integer
 * values in `[minValue, maxValue]`, up to `maxPairs` pairs a batch, and about one batch in
 * `1 / emptyRatio` empty.
 */
export function randomPairBatches(
  random: () => number,
  options: { count: number; keys: readonly string[]; minValue: number; maxValue: number; maxPairs?: number; emptyRatio?: number },
): [string, number][][] {
  const { count, keys, minValue, maxValue, maxPairs = 6, emptyRatio = 0.25 } = options;
  const batches: [string, number][][] = [];
  for (let index = 0; index < count; index++) {
    const size = random() < emptyRatio ? 0 : 1 + Math.floor(random() * maxPairs);
    const batch: [string, number][] = [];
    for (let pair = 0; pair < size; pair++) {
      const key = keys[Math.floor(random() * keys.length)];
      batch.push([key, minValue + Math.floor(random() * (maxValue - minValue + 1))]);
    }
    batches.push(batch);
  }
  return batches;
}
