import { countWords, differenceOf, sentenceSource } from './words';

describe('countWords', () => {
  it('adds every space-separated word of a value to the running totals', () => {
    const totals = new Map([['kafka', 1]]);
    countWords('kafka streams kafka', totals);
    expect([...totals]).toEqual([
      ['kafka', 3],
      ['streams', 1],
    ]);
  });
});

describe('differenceOf', () => {
  const expected = new Map([
    ['a', 2],
    ['b', 1],
  ]);

  it('finds no difference between equal counts in any order', () => {
    expect(differenceOf(new Map([['b', 1], ['a', 2]]), expected)).toBeNull();
  });

  it('names a word whose count differs', () => {
    expect(differenceOf(new Map([['a', 2], ['b', 2]]), expected)).toBe('"b" counted 2 times, expected 1');
  });

  it('reports a missing or extra word through the number of distinct words', () => {
    expect(differenceOf(new Map([['a', 2]]), expected)).toBe('1 distinct words, expected 2');
    expect(differenceOf(new Map([['a', 2], ['b', 1], ['c', 1]]), expected)).toBe('3 distinct words, expected 2');
  });
});

describe('sentenceSource', () => {
  it('repeats the same sentences for the same seed and differs for another', () => {
    const first = sentenceSource(100, 7);
    const again = sentenceSource(100, 7);
    const other = sentenceSource(100, 8);
    const sentences = Array.from({ length: 50 }, () => first());
    expect(Array.from({ length: 50 }, () => again())).toEqual(sentences);
    expect(Array.from({ length: 50 }, () => other())).not.toEqual(sentences);
  });

  it('makes sentences of single-space-separated words just over the requested size', () => {
    const next = sentenceSource(100);
    for (let i = 0; i < 1000; i++) {
      const sentence = next();
      expect(sentence.length).toBeGreaterThanOrEqual(100);
      expect(sentence.length).toBeLessThan(120);
      expect(sentence).toMatch(/^[a-z]+( [a-z]+)*$/);
    }
  });

  it('draws frequent and rare words, as text does', () => {
    const next = sentenceSource(100);
    const totals = new Map<string, number>();
    for (let i = 0; i < 2000; i++) countWords(next(), totals);
    const counts = [...totals.values()].sort((a, b) => b - a);
    expect(counts[0]).toBeGreaterThan(10 * counts[counts.length - 1]);
    expect(totals.size).toBeGreaterThan(1000);
  });
});
