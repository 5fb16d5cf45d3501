import { ConfigError } from '@dstream/core';
import { expectedWordCounts, sentence, sentenceRecords } from '../src/sentences';

const WORDS = ['stream', 'batch', 'offset', 'group', 'commit', 'lag', 'once', 'kafka', 'partition', 'restart'];

describe('sentence', () => {
  it('builds 2 to 5 words from the list, the same ones every time for the same index', () => {
    expect([0, 1, 2, 3, 4].map((i) => sentence(WORDS, i))).toEqual([
      'stream kafka',
      'group stream kafka',
      'once group stream kafka',
      'restart once group stream kafka',
      'offset restart',
    ]);
    expect(sentence(WORDS, 123)).toBe(sentence(WORDS, 123));
  });

  it('rejects an empty word list or a word with a space with a ConfigError', () => {
    expect(() => sentence([], 0)).toThrow(ConfigError);
    expect(() => sentence(['two words'], 0)).toThrow(ConfigError);
  });
});

describe('sentenceRecords', () => {
  it('yields count keyless records spread round-robin over the partitions', () => {
    const records = [...sentenceRecords(WORDS, 5, 3)];
    expect(records).toEqual([0, 1, 2, 3, 4].map((i) => ({ key: null, value: sentence(WORDS, i), partition: i % 3 })));
  });

  it('rejects a partition count that is not a positive integer before yielding a record', () => {
    expect(() => sentenceRecords(WORDS, 5, 0).next()).toThrow(ConfigError);
    expect(() => sentenceRecords(WORDS, 5, 1.5).next()).toThrow(ConfigError);
  });
});

describe('expectedWordCounts', () => {
  it('counts every word of the sentences the records carry', () => {
    const counted = new Map<string, number>();
    for (const { value } of sentenceRecords(WORDS, 500, 3)) {
      for (const word of String(value).split(' ')) counted.set(word, (counted.get(word) ?? 0) + 1);
    }
    expect(expectedWordCounts(WORDS, 500)).toEqual(counted);
  });

  it('sums to the number of words in the sentences, none for no records', () => {
    const total = [...expectedWordCounts(WORDS, 4).values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(2 + 3 + 4 + 5);
    expect(expectedWordCounts(WORDS, 0).size).toBe(0);
  });
});
