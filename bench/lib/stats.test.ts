import { median, percentile } from './stats';

describe('percentile', () => {
  const samples = Array.from({ length: 2000 }, (_, i) => 2000 - i);

  it('takes the nearest rank, so p99 of 2000 samples is the 1980th smallest', () => {
    expect(percentile(samples, 99)).toBe(1980);
    expect(percentile(samples, 50)).toBe(1000);
  });

  it('returns the largest sample at p100 and the smallest at p0', () => {
    expect(percentile(samples, 100)).toBe(2000);
    expect(percentile(samples, 0)).toBe(1);
  });

  it('leaves the samples in their order', () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });

  it('refuses an empty sample set', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
  });
});

describe('median', () => {
  it('takes the middle sample of an odd count and the upper middle of an even count', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(3);
  });
});
