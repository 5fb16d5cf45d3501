import { maxMessagesForBytes, maxMessagesPerPartition, planOffsetRanges, PartitionPosition, tighterCaps } from './BatchPlanner';

const positions: PartitionPosition[] = [
  { topic: 't', partition: 0, fromOffset: 100, latestOffset: 400 },
  { topic: 't', partition: 1, fromOffset: 0, latestOffset: 100 },
];

describe('maxMessagesPerPartition', () => {
  it('sets no limit without a rate', () => {
    expect(maxMessagesPerPartition(positions, {}, 1000)).toBeUndefined();
  });

  it('allows maxRatePerPartition times the interval in seconds to each partition', () => {
    expect(maxMessagesPerPartition(positions, { maxRatePerPartition: 50 }, 2000)).toEqual(
      new Map([
        ['t:0', 100],
        ['t:1', 100],
      ]),
    );
  });

  it('splits a stream-wide backpressure rate between partitions in proportion to their lag', () => {
    // Lags 300 and 100 share 400 records/s: 300 and 100 per second.
    expect(maxMessagesPerPartition(positions, { streamRate: 400 }, 500)).toEqual(
      new Map([
        ['t:0', 150],
        ['t:1', 50],
      ]),
    );
  });

  it('caps the backpressure share at maxRatePerPartition', () => {
    expect(maxMessagesPerPartition(positions, { streamRate: 400, maxRatePerPartition: 200 }, 1000)?.get('t:0')).toBe(200);
  });

  it('raises a share below minRatePerPartition to it', () => {
    expect(maxMessagesPerPartition(positions, { streamRate: 40, minRatePerPartition: 20 }, 1000)?.get('t:1')).toBe(20);
  });

  it('lets a partition with no lag move by at least one record', () => {
    const idle: PartitionPosition[] = [{ topic: 't', partition: 0, fromOffset: 5, latestOffset: 5 }];
    expect(maxMessagesPerPartition(idle, { streamRate: 100 }, 1000)?.get('t:0')).toBe(1);
  });
});

describe('planOffsetRanges', () => {
  it('reads up to the log end without a limit', () => {
    expect(planOffsetRanges(positions, undefined).map(String)).toEqual(['t-0 [100, 400)', 't-1 [0, 100)']);
  });

  it('stops each range at from + its limit, never past the log end', () => {
    const caps = new Map([
      ['t:0', 50],
      ['t:1', 500],
    ]);
    expect(planOffsetRanges(positions, caps).map(String)).toEqual(['t-0 [100, 150)', 't-1 [0, 100)']);
  });

  it('plans an empty range when the log end is behind the next offset', () => {
    const behind: PartitionPosition[] = [{ topic: 't', partition: 0, fromOffset: 10, latestOffset: 4 }];
    expect(planOffsetRanges(behind, undefined).map(String)).toEqual(['t-0 [10, 10)']);
  });
});

describe('maxMessagesForBytes', () => {
  it('splits the byte budget in proportion to lag and divides each share by the bytes per record', () => {
    // Lags 300 and 100 share 40 000 bytes: 30 000 at 100 bytes per record, 10 000 at 1000.
    const bytes = (p: { partition: number }) => (p.partition === 0 ? 100 : 1000);
    expect(maxMessagesForBytes(positions, 40_000, bytes)).toEqual(
      new Map([
        ['t:0', 300],
        ['t:1', 10],
      ]),
    );
  });

  it('lets a lagging partition move by at least one record, however large its records', () => {
    expect(maxMessagesForBytes(positions, 1000, () => 1e9)).toEqual(
      new Map([
        ['t:0', 1],
        ['t:1', 1],
      ]),
    );
  });
});

describe('tighterCaps', () => {
  it('keeps the smaller cap of each partition, and whichever exists when only one does', () => {
    const a = new Map([
      ['t:0', 5],
      ['t:1', 50],
    ]);
    const b = new Map([
      ['t:0', 10],
      ['t:1', 20],
    ]);
    expect(tighterCaps(a, b)).toEqual(
      new Map([
        ['t:0', 5],
        ['t:1', 20],
      ]),
    );
    expect(tighterCaps(undefined, b)).toEqual(b);
    expect(tighterCaps(a, undefined)).toEqual(a);
    expect(tighterCaps(undefined, undefined)).toBeUndefined();
  });
});
