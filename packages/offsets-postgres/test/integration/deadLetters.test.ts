import { Pool, type PoolClient } from 'pg';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { runCrashTest, runPoisonJob } from '@dstream/test-utils/crash';
import { services } from '@dstream/test-utils';

const PG_URL = services.pgUrl;

describe('dead letters in PostgreSQL', () => {
  let pool: Pool;
  beforeAll(async () => {
    pool = new Pool({ connectionString: PG_URL });
    await pool.query('CREATE TABLE IF NOT EXISTS dstream_test_dead_letter_effects (run text NOT NULL, record text NOT NULL, n int NOT NULL, PRIMARY KEY (run, record))');
  });
  afterAll(() => pool.end());

  it('keeps each poison record once in dstream_dead_letters, in the transaction of the batch that skipped it, and counts the rest exactly once', async () => {
    const run = `dead-letters-${Date.now().toString(36)}`;
    const isPoison = (id: string) => id === '0:0' || id === '0:21' || id === '1:13';
    const { group, infos, deadLetters } = await runPoisonJob(
      () => new PostgresOffsetStore({ connectionString: PG_URL }),
      40,
      isPoison,
      async (tx, ids) => {
        await (tx as PoolClient).query(
          `INSERT INTO dstream_test_dead_letter_effects (run, record, n) SELECT $1, unnest($2::text[]), 1
           ON CONFLICT (run, record) DO UPDATE SET n = dstream_test_dead_letter_effects.n + 1`,
          [run, ids],
        );
      },
    );
    const { rows } = await pool.query<{ record: string; n: number }>('SELECT record, n FROM dstream_test_dead_letter_effects WHERE run = $1', [run]);
    await pool.query('DELETE FROM dstream_test_dead_letter_effects WHERE run = $1', [run]);
    expect(rows).toHaveLength(77);
    expect(rows.every((row) => row.n === 1)).toBe(true);
    expect(rows.some((row) => isPoison(row.record))).toBe(false);
    expect(deadLetters.map((letter) => [letter.partition, letter.offset, letter.value, letter.attempts, letter.operator])).toEqual([
      [0, 0, '0:0', 2, 'map'],
      [0, 21, '0:21', 2, 'map'],
      [1, 13, '1:13', 2, 'map'],
    ]);
    expect(infos.reduce((sum, info) => sum + info.numDeadLetters, 0)).toBe(3);
    const table = await pool.query('SELECT count(*)::int AS n FROM dstream_dead_letters WHERE group_id = $1', [group]);
    expect(table.rows[0].n).toBe(3);
  }, 90_000);

  it('neither loses nor duplicates a dead letter when the job is killed between dead-lettering and commit', async () => {
    const result = await runCrashTest({ store: 'postgres', delivery: 'exactly-once', records: 2000, kills: 6, poisonEvery: 50 });

    expect(result).toMatchObject({ missing: 0, duplicates: 0, poisonCounted: 0, missingDeadLetters: 0, wrongDeadLetters: 0 });
    expect(result.deadLetters).toBe(result.poison);
    expect(result.killsInFlight).toBeGreaterThan(0);
  }, 180_000);
});
