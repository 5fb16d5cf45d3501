import { ConfigError } from '@dstream/core';
import type { ExampleRecord } from './produce';

/**
 * Sentence `i` over `words`: 2 to 5 words, a deterministic function of `i`, so a job's expected
 * word counts can be recomputed from the record count alone.
 *
 * @example
 * sentence(['stream', 'batch', 'offset'], 1); // 'stream batch offset'
 */
export function sentence(words: readonly string[], i: number): string {
  checkWords(words);
  return Array.from({ length: 2 + (i % 4) }, (_, w) => words[(i * 3 + w * 7) % words.length]).join(' ');
}

/**
 * Sentences [0, count) over `words` as records for `produce`, without keys and spread evenly over
 * `partitions` (record `i` to partition `i % partitions`), so every partition has work to resume.
 *
 * @example
 * await produce(brokers, topic, sentenceRecords(WORDS, 2000, 3));
 */
export function* sentenceRecords(words: readonly string[], count: number, partitions: number): Generator<ExampleRecord> {
  checkWords(words);
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new ConfigError('partitions', partitions, 'must be a positive integer', 'Pass the partition count of the topic.');
  }
  for (let i = 0; i < count; i++) yield { key: null, value: sentence(words, i), partition: i % partitions };
}

/**
 * How often each word occurs in sentences [0, count) over `words`: what a word count that read
 * every record of `sentenceRecords(words, count, …)` exactly once must report.
 *
 * @example
 * const expected = expectedWordCounts(WORDS, 2000);
 * const wrong = [...expected].filter(([word, n]) => totals.get(word) !== n);
 */
export function expectedWordCounts(words: readonly string[], count: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    for (const word of sentence(words, i).split(' ')) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

// A generator's body runs on the first `next()`, so `produce` fails on a bad list before it sends anything.
function checkWords(words: readonly string[]): void {
  if (!Array.isArray(words) || words.length === 0 || words.some((word) => typeof word !== 'string' || !/^\S+$/.test(word))) {
    throw new ConfigError('words', words, 'must be a non-empty array of words without spaces', "Pass e.g. ['stream', 'batch', 'offset'].");
  }
}
