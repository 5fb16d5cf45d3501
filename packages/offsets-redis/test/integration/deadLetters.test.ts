import { Redis, type ChainableCommander } from 'ioredis';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { runCrashTest, runPoisonJob } from '@dstream/test-utils/crash';
import { services } from '@dstream/test-utils';

const REDIS_URL = services.redisUrl;

describe('dead letters in Redis', () => {
  let raw: Redis;
  beforeAll(() => void (raw = new Redis(REDIS_URL)));
  afterAll(() => raw.quit());

  it('keeps each poison record once, in the transaction of the batch that skipped it, and counts the rest exactly once', async () => {
    const effects = `dstream-test:dead-letters:${Date.now().toString(36)}:effects`;
    const isPoison = (id: string) => id === '0:7' || id === '1:0' || id === '1:39';
    const { group, infos, deadLetters } = await runPoisonJob(
      () => new RedisOffsetStore({ url: REDIS_URL }),
      40,
      isPoison,
      (tx, ids) => void ids.forEach((id) => (tx as ChainableCommander).hincrby(effects, id, 1)),
    );
    const counts = await raw.hgetall(effects);
    await raw.del(effects);
    expect(Object.keys(counts)).toHaveLength(77);
    expect(Object.values(counts).every((n) => n === '1')).toBe(true);
    expect(Object.keys(counts).some(isPoison)).toBe(false);
    expect(deadLetters.map((letter) => [letter.partition, letter.offset, letter.value, letter.attempts, letter.error])).toEqual([
      [0, 7, '0:7', 2, 'poison record 0:7'],
      [1, 0, '1:0', 2, 'poison record 1:0'],
      [1, 39, '1:39', 2, 'poison record 1:39'],
    ]);
    expect(infos.reduce((sum, info) => sum + info.numDeadLetters, 0)).toBe(3);
    const stored = await raw.hgetall(`dstream:offsets:${group}:@deadletters`);
    expect(Object.keys(stored).sort()).toEqual(deadLetters.map((l) => `${l.topic}:${l.partition}:${l.offset}`).sort());
    await raw.del(`dstream:offsets:${group}:@deadletters`);
  }, 90_000);

  it('neither loses nor duplicates a dead letter when the job is killed between dead-lettering and commit', async () => {
    const result = await runCrashTest({ store: 'redis', delivery: 'exactly-once', records: 2000, kills: 6, poisonEvery: 50 });

    expect(result).toMatchObject({ missing: 0, duplicates: 0, poisonCounted: 0, missingDeadLetters: 0, wrongDeadLetters: 0 });
    expect(result.deadLetters).toBe(result.poison);
    expect(result.killsInFlight).toBeGreaterThan(0);
  }, 180_000);

  it('loses no dead letter under at-least-once, and keeps one per record though a kill makes the job write it again', async () => {
    const result = await runCrashTest({ store: 'redis', delivery: 'at-least-once', records: 2000, kills: 6, poisonEvery: 50 });

    expect(result).toMatchObject({ missing: 0, poisonCounted: 0, missingDeadLetters: 0, wrongDeadLetters: 0 });
    expect(result.deadLetters).toBe(result.poison);
    expect(result.duplicates).toBeLessThanOrEqual(result.killsInFlight * result.maxBatchRecords);
  }, 180_000);
});
