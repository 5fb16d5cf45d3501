/**
 * The word count every throughput variant runs, the sentences it runs on, and the check that two
 * counts agree: no Kafka here, so it is tested on its own.
 */

/** Splits a value on spaces and adds its words to `totals`: the word count every variant runs. */
export function countWords(text: string, totals: Map<string, number>): void {
  for (const word of text.split(' ')) totals.set(word, (totals.get(word) ?? 0) + 1);
}

/** Null when both maps hold the same words with the same counts, else the first difference found. */
export function differenceOf(actual: ReadonlyMap<string, number>, expected: ReadonlyMap<string, number>): string | null {
  if (actual.size !== expected.size) return `${actual.size} distinct words, expected ${expected.size}`;
  for (const [word, count] of expected) {
    if (actual.get(word) !== count) return `"${word}" counted ${actual.get(word) ?? 0} times, expected ${count}`;
  }
  return null;
}

/** A seeded generator (mulberry32), so every run sends the same sentences. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ka', 'fo', 'stre', 'am', 'par', 'ti', 'on', 'off', 'set', 'bat', 'ch', 'lo', 'g', 'ra', 'nge', 'ro'];

/**
 * Sentences of about `bytes` bytes drawn from a 4096-word vocabulary with a skewed (squared
 * uniform) distribution, so a few words are frequent and many are rare, as in text.
 */
export function sentenceSource(bytes: number, seed = 42): () => string {
  const random = randomSource(seed);
  const vocabulary = Array.from({ length: 4096 }, (_, i) => {
    let word = '';
    for (let n = i + 1; n > 0; n = Math.floor(n / SYLLABLES.length)) word += SYLLABLES[n % SYLLABLES.length];
    return word;
  });
  return () => {
    let sentence = vocabulary[Math.floor(random() ** 2 * vocabulary.length)];
    while (sentence.length < bytes) sentence += ` ${vocabulary[Math.floor(random() ** 2 * vocabulary.length)]}`;
    return sentence;
  };
}
