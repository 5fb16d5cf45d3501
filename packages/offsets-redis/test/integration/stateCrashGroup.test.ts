import { runStateCrashTest } from '@dstream/test-utils/crash';

// DSTREAM_CRASH_RECORDS and DSTREAM_CRASH_KILLS scale this up.
const records = Number(process.env.DSTREAM_CRASH_RECORDS ?? 4000);
const kills = Number(process.env.DSTREAM_CRASH_KILLS ?? 4);

describe('a stateful job run by two members of one group on Redis, one killed with SIGKILL and restarted in turn', () => {
  it('ends with every running total, stored state and window result equal to the offline computation', async () => {
    const result = await runStateCrashTest({ store: 'redis', records, kills, gracefulRestarts: 0, workers: 2, windowMs: 10_000, slideMs: 1000 });

    expect(result).toMatchObject({
      rangeProblems: [],
      wrongBatchCounts: [],
      wrongTotals: [],
      wrongStoredTotals: [],
      wrongWindows: [],
    });
    expect(result.windowsChecked).toBeGreaterThan(0);
    // Windows over batches of a partition read by two members: the state moved with the partition.
    expect(result.windowsAcrossMoves).toBeGreaterThan(0);
  }, 120_000 + kills * 30_000);
});
