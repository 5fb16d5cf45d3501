import { runCrashTest } from '@dstream/test-utils/crash';

// DSTREAM_CRASH_RECORDS and DSTREAM_CRASH_KILLS scale this up for a soak run (e.g. 100000 and 10).
const records = Number(process.env.DSTREAM_CRASH_RECORDS ?? 10_000);
const kills = Number(process.env.DSTREAM_CRASH_KILLS ?? 5);
const timeoutMs = 120_000 + records * 10;

describe('a postgres-backed job killed with SIGKILL and restarted', () => {
  it('counts every record exactly once with exactly-once delivery', async () => {
    const result = await runCrashTest({ store: 'postgres', delivery: 'exactly-once', records, kills });

    expect(result).toMatchObject({ records, kills, missing: 0, duplicates: 0 });
    expect(result.killsInFlight).toBeGreaterThan(0);
  }, timeoutMs);

  it('loses no record with at-least-once delivery, repeating at most the batches in flight at a kill', async () => {
    const result = await runCrashTest({ store: 'postgres', delivery: 'at-least-once', records, kills });

    expect(result).toMatchObject({ records, kills, missing: 0 });
    expect(result.duplicates).toBeLessThanOrEqual(result.killsInFlight * result.maxBatchRecords);
  }, timeoutMs);
});
