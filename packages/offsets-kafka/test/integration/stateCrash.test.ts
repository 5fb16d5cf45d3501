import { runStateCrashTest } from '@dstream/test-utils/crash';

// DSTREAM_CRASH_RECORDS, DSTREAM_CRASH_KILLS and DSTREAM_CRASH_RESTARTS scale this up (the full proof: 10 and 2).
const records = Number(process.env.DSTREAM_CRASH_RECORDS ?? 4000);
const kills = Number(process.env.DSTREAM_CRASH_KILLS ?? 3);
const gracefulRestarts = Number(process.env.DSTREAM_CRASH_RESTARTS ?? 1);

describe('a stateful job on Kafka (KafkaTransactionalSink with a state topic), killed with SIGKILL and restarted', () => {
  it('ends with every running total, stored state and window result equal to the offline computation', async () => {
    // A restart takes longer here (initTransactions, reading the state topic): a wider window still spans one.
    const result = await runStateCrashTest({ store: 'kafka', records, kills, gracefulRestarts, windowMs: 8000 });

    expect(result).toMatchObject({
      rangeProblems: [],
      wrongBatchCounts: [],
      wrongTotals: [],
      wrongStoredTotals: [],
      wrongWindows: [],
    });
    expect(result.windowsChecked).toBeGreaterThan(0);
    // Windows that hold batches of two runs are the ones a lost or doubled slice would break.
    expect(result.windowsAcrossRestarts).toBeGreaterThan(0);
    expect(result.restoreMs).toHaveLength(kills + gracefulRestarts + 1);
  }, 60_000 + (kills + gracefulRestarts) * 20_000);
});
