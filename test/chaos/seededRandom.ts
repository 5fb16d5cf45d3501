/** A reproducible source of random choices: the same seed gives the same fault schedule. */
export interface SeededRandom {
  /** A number in [0, 1). */
  next(): number;
  /** A number in [min, max). */
  between(min: number, max: number): number;
  /** An integer in [0, n). */
  index(n: number): number;
  /** One of the items. */
  pick<T>(items: readonly T[]): T;
}

/**
 * mulberry32: small, fast and good enough for schedules (not for cryptography). Each scenario
 * derives its own generator from the run's seed and its name, so adding a scenario or changing
 * one's size leaves the others' schedules as they were.
 *
 * @example
 * const random = seededRandom(42, 'group redis exactly-once');
 * random.between(0, 1000); // the same on every run with seed 42
 */
export function seededRandom(seed: number, stream = ''): SeededRandom {
  let state = seed >>> 0;
  for (let i = 0; i < stream.length; i++) state = Math.imul(state ^ stream.charCodeAt(i), 0x9e3779b1) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    between: (min, max) => min + next() * (max - min),
    index: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}
