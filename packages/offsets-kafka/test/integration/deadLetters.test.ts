import { runCrashTest } from '@dstream/test-utils/crash';

describe('dead letters in a Kafka topic', () => {
  it('neither loses nor writes twice a dead letter of the transactional sink when the job is killed between dead-lettering and commit', async () => {
    const result = await runCrashTest({ store: 'kafka', delivery: 'exactly-once', records: 2000, kills: 6, poisonEvery: 50 });

    expect(result).toMatchObject({ missing: 0, duplicates: 0, poisonCounted: 0, missingDeadLetters: 0, wrongDeadLetters: 0 });
    expect(result.deadLetters).toBe(result.poison);
    // Letters of a killed batch's transaction were aborted with it: the topic holds each letter once.
    expect(result.deadLetterWrites).toBe(result.poison);
    expect(result.killsInFlight).toBeGreaterThan(0);
  }, 240_000);

  it('loses no dead letter of KafkaOffsetStore (at-least-once), and loads one per record though a kill makes the job write it again', async () => {
    const result = await runCrashTest({ store: 'kafka', delivery: 'at-least-once', records: 2000, kills: 6, poisonEvery: 50 });

    expect(result).toMatchObject({ missing: 0, poisonCounted: 0, missingDeadLetters: 0, wrongDeadLetters: 0 });
    expect(result.deadLetters).toBe(result.poison);
    expect(result.deadLetterWrites).toBeGreaterThanOrEqual(result.poison);
    expect(result.duplicates).toBeLessThanOrEqual(result.killsInFlight * result.maxBatchRecords);
  }, 240_000);
});
