import { runCrashTest } from '@dstream/test-utils/crash';

// DSTREAM_CRASH_RECORDS and DSTREAM_CRASH_KILLS scale this up for a soak run (e.g. 100000 and 10).
const records = Number(process.env.DSTREAM_CRASH_RECORDS ?? 10_000);
const kills = Number(process.env.DSTREAM_CRASH_KILLS ?? 5);
const timeoutMs = 120_000 + records * 10;

describe('a zookeeper-backed job killed with SIGKILL and restarted', () => {
  // The store has no transaction to carry the output, so at-least-once is its strongest delivery.
  it('loses no record with at-least-once delivery, repeating at most the batches in flight at a kill', async () => {
    const result = await runCrashTest({ store: 'zookeeper', delivery: 'at-least-once', records, kills });

    expect(result).toMatchObject({ records, kills, missing: 0 });
    expect(result.duplicates).toBeLessThanOrEqual(result.killsInFlight * result.maxBatchRecords);
  }, timeoutMs);
});
