/**
 * Runs the sessions job on a fresh topic and database schema: produces a first wave of clicks,
 * lets one StreamingContext read them and stops it while the sessions are still open, produces a
 * second wave, starts a new context that restores the open sessions from PostgreSQL, waits until
 * every user has been idle long enough for every session to end, and checks that each click was
 * counted in exactly one ended session.
 *
 *   node dist/main.js [--clicks 600] [--idle-ms 3000]
 */
import { brokersFromEnv, committedRecords, createTopic, integerFlag, pgUrlFromEnv, produce, runMain, runUntilCommitted } from '@dstream/example-support';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { Client } from 'pg';
import { CREATE_SESSIONS, sessionsJob } from './sessionsJob';

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'];
const PARTITIONS = 3;
const PAGES = ['/', '/search', '/item', '/cart', '/checkout'];

/** Click `i` of a wave: its user is deterministic, so the expected clicks per user can be recomputed. */
const userOf = (i: number) => USERS[(i * 3) % USERS.length];

function* clickRecords(from: number, to: number) {
  for (let i = from; i < to; i++) yield { key: userOf(i), value: PAGES[i % PAGES.length] };
}

runMain(async () => {
  const args = process.argv.slice(2);
  const clicks = integerFlag(args, '--clicks', 600, 2);
  const idleMs = integerFlag(args, '--idle-ms', 3000, 500);
  const brokers = brokersFromEnv();
  const topic = `dstream-sessions-${Date.now()}`;
  // Each run keeps its sessions in a schema of its own (first on the search_path), so runs never
  // mix; offsets and open sessions go to the store's default public.dstream_offsets and
  // public.dstream_state under the run's group; open sessions are stored per source partition,
  // under the state names sessions@<topic>:<partition>.
  const schema = topic.replace(/-/g, '_');
  const url = new URL(pgUrlFromEnv());
  url.searchParams.set('options', `-c search_path=${schema}`);
  const connectionString = url.toString();
  const settings = { brokers, connectionString, topic, group: topic, idleMs };
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  const firstWave = Math.floor(clicks / 2);

  const db = new Client({ connectionString });
  await db.connect();
  const store = new PostgresOffsetStore({ connectionString });
  const openSessions = async () =>
    Number(
      (
        await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM public.dstream_state WHERE group_id = $1 AND operator LIKE $2 AND key <> '!meta'`,
          [settings.group, `sessions@${topic}:%`],
        )
      ).rows[0].n,
    );
  try {
    await db.query(`CREATE SCHEMA ${schema}`);
    await db.query(CREATE_SESSIONS);
    await createTopic(brokers, topic, PARTITIONS);
    await store.connect();

    await produce(brokers, topic, clickRecords(0, firstWave));
    console.log(`produced ${firstWave} clicks of ${USERS.length} users to ${topic}; sessions end after ${idleMs} ms idle`);
    await runUntilCommitted(sessionsJob(settings), store, settings.group, partitions, firstWave);
    const open = await openSessions();
    console.log(`first context stopped after ${await committedRecords(store, settings.group, partitions)} clicks with ${open} open sessions stored in public.dstream_state`);

    await produce(brokers, topic, clickRecords(firstWave, clicks));
    console.log(`produced ${clicks - firstWave} more clicks`);
    const ssc = sessionsJob(settings);
    const termination = ssc.awaitTermination();
    termination.catch(() => undefined);
    await ssc.start();
    // Every session ends once its user has been idle for idleMs after the last click.
    const deadline = Date.now() + 60_000 + 2 * idleMs;
    while ((await committedRecords(store, settings.group, partitions)) < clicks || (await openSessions()) > 0) {
      if (Date.now() > deadline) throw new Error('the sessions did not all end within the deadline');
      await Promise.race([termination, new Promise((resolve) => setTimeout(resolve, 200))]);
    }
    await ssc.stop({ graceful: true });
    await termination;

    const { rows } = await db.query<{ user_id: string; sessions: string; clicks: string }>(
      'SELECT user_id, count(*) AS sessions, sum(clicks) AS clicks FROM user_sessions GROUP BY user_id ORDER BY user_id',
    );
    console.log(`second context restored the open sessions and ended them: ${rows.map((r) => `${r.user_id}=${r.clicks} clicks in ${r.sessions}`).join(', ')}`);
    const expected = new Map<string, number>();
    for (let i = 0; i < clicks; i++) expected.set(userOf(i), (expected.get(userOf(i)) ?? 0) + 1);
    const wrong = [...expected].filter(([user, n]) => rows.find((row) => row.user_id === user)?.clicks !== String(n));
    if (wrong.length > 0 || rows.length !== expected.size) {
      throw new Error(`clicks in ended sessions differ from the clicks produced for: ${wrong.map(([user]) => user).join(', ')}`);
    }
    console.log(`every one of ${clicks} clicks counted in exactly one ended session across a stop and restart`);
  } finally {
    await store.close();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.query('DELETE FROM public.dstream_offsets WHERE group_id = $1', [settings.group]).catch(() => undefined);
    await db.query('DELETE FROM public.dstream_state WHERE group_id = $1', [settings.group]).catch(() => undefined);
    await db.end();
  }
});
