import type { ExampleRecord } from '@dstream/example-support';

const WORDS = [
  'stream', 'batch', 'offset', 'kafka', 'partition', 'record', 'window', 'state', 'commit', 'restart',
  'exactly', 'once', 'lag', 'broker', 'consumer', 'group', 'checkpoint', 'range', 'interval', 'job',
];

/** A deterministic sentence for record `i` (so a run's expected word counts can be recomputed). */
export function sentence(i: number): string {
  const length = 3 + (i % 5);
  const words: string[] = [];
  for (let w = 0; w < length; w++) words.push(WORDS[(i * 7 + w * 13 + (i >> 3)) % WORDS.length]);
  return words.join(' ');
}

/** Word counts of records [0, count): what a job that read every record once must report. */
export function expectedCounts(count: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    for (const word of sentence(i).split(' ')) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

/** Sentences [0, count) as records keyed by record number, for `produce`. */
export function* sentenceRecords(count: number): Generator<ExampleRecord> {
  for (let i = 0; i < count; i++) yield { key: `s${i}`, value: sentence(i) };
}
