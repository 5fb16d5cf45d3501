import { runCrashTest } from '@dstream/test-utils/crash';

// DSTREAM_CRASH_RECORDS and DSTREAM_CRASH_KILLS scale this up for a soak run (e.g. 100000 and 10).
const records = Number(process.env.DSTREAM_CRASH_RECORDS ?? 10_000);
const kills = Number(process.env.DSTREAM_CRASH_KILLS ?? 5);
const timeoutMs = 180_000 + records * 10;

describe('a job keeping its offsets in Kafka, killed with SIGKILL and restarted', () => {
  it('writes every record to the output topic exactly once with the transactional sink', async () => {
    const result = await runCrashTest({ store: 'kafka', delivery: 'exactly-once', records, kills });

    expect(result).toMatchObject({ records, kills, missing: 0, duplicates: 0 });
    expect(result.killsInFlight).toBeGreaterThan(0);
  }, timeoutMs);

  it('loses no record with offsets in the consumer group, repeating at most the batches in flight at a kill', async () => {
    const result = await runCrashTest({ store: 'kafka', delivery: 'at-least-once', records, kills });

    expect(result).toMatchObject({ records, kills, missing: 0 });
    expect(result.duplicates).toBeLessThanOrEqual(result.killsInFlight * result.maxBatchRecords);
  }, timeoutMs);
});
