/**
 * Runs the balances job on a fresh topic and database schema: produces payments, lets one
 * StreamingContext sum about half of them, stops it, starts a new one that resumes from the
 * offsets in PostgreSQL, and checks that every balance equals the payments produced for it.
 * A few payments are malformed: the job sets them aside as dead letters and goes on; the check
 * finds each of them in `dstream_dead_letters` and none of them in the balances.
 *
 *   node dist/main.js [--records 2000]
 */
import { brokersFromEnv, committedRecords, createTopic, integerFlag, pgUrlFromEnv, produce, runMain, runUntilCommitted } from '@dstream/example-support';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { Client } from 'pg';
import { balancesJob, CREATE_BALANCES } from './balancesJob';

const ACCOUNTS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'];
const PARTITIONS = 3;

/** Payment `i`: deterministic, so the expected balances can be recomputed. */
const payment = (i: number) => ({ account: ACCOUNTS[(i * 5) % ACCOUNTS.length], cents: 100 + ((i * 37) % 900) });

/** Payment `i` is malformed (one in about 400): what a buggy producer might write. */
const isMalformed = (i: number) => i % 397 === 13;

/** Payments [0, records) as records spread evenly over the partitions, for `produce`. */
function* paymentRecords(records: number) {
  for (let i = 0; i < records; i++) {
    const { account, cents } = payment(i);
    yield { key: null, value: isMalformed(i) ? `${account};${cents}` : `${account},${cents}`, partition: i % PARTITIONS };
  }
}

runMain(async () => {
  const records = integerFlag(process.argv.slice(2), '--records', 2000, 2);
  const brokers = brokersFromEnv();
  const topic = `dstream-balances-${Date.now()}`;
  // Each run keeps its balances in a schema of its own (first on the search_path), so runs never
  // mix; offsets go to the store's default public.dstream_offsets under the run's group.
  const schema = topic.replace(/-/g, '_');
  const url = new URL(pgUrlFromEnv());
  url.searchParams.set('options', `-c search_path=${schema}`);
  const connectionString = url.toString();
  const settings = { brokers, connectionString, topic, group: topic };
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));

  const db = new Client({ connectionString });
  await db.connect();
  const store = new PostgresOffsetStore({ connectionString });
  try {
    await db.query(`CREATE SCHEMA ${schema}`);
    await db.query(CREATE_BALANCES);
    await createTopic(brokers, topic, PARTITIONS);
    await produce(brokers, topic, paymentRecords(records));
    console.log(`produced ${records} payments to ${topic} (${PARTITIONS} partitions); results in schema ${schema}`);
    // A store of our own to watch progress: the one inside the job belongs to its stream.
    await store.connect();

    const firstStop = await runUntilCommitted(balancesJob(settings), store, settings.group, partitions, records / 2);
    console.log(`first context stopped after ${firstStop} records`);
    const inspect = `SELECT partition, next_offset FROM public.dstream_offsets WHERE group_id = '${settings.group}' ORDER BY partition`;
    const { rows: offsets } = await db.query(inspect);
    console.log(`offsets: psql -c "${inspect}" -> ${JSON.stringify(offsets)}`);

    await runUntilCommitted(balancesJob(settings), store, settings.group, partitions, records);
    console.log(`second context resumed from those offsets and stopped after ${await committedRecords(store, settings.group, partitions)} records`);

    const expected = new Map<string, number>();
    const malformed: string[] = [];
    for (let i = 0; i < records; i++) {
      const { account, cents } = payment(i);
      if (isMalformed(i)) malformed.push(`${account};${cents}`);
      else expected.set(account, (expected.get(account) ?? 0) + cents);
    }
    const { rows } = await db.query<{ account: string; balance: string }>('SELECT account, balance FROM account_balances ORDER BY account');
    console.log(`balances: ${rows.map(({ account, balance }) => `${account}=${balance}`).join(' ')}`);
    const wrong = [...expected].filter(([account, cents]) => rows.find((row) => row.account === account)?.balance !== String(cents));
    if (wrong.length > 0 || rows.length !== expected.size) {
      throw new Error(`balances differ from the payments produced for: ${wrong.map(([account]) => account).join(', ')}`);
    }
    const letters = await store.loadDeadLetters(settings.group);
    console.log(
      `dead letters: psql -c "SELECT partition, \"offset\", value, error FROM public.dstream_dead_letters WHERE group_id = '${settings.group}'" -> ` +
        letters.map((letter) => `${letter.partition}@${letter.offset} ${JSON.stringify(letter.value)}`).join(', '),
    );
    const kept = letters.map((letter) => letter.value).sort();
    if (JSON.stringify(kept) !== JSON.stringify([...malformed].sort())) {
      throw new Error(`dead letters ${JSON.stringify(kept)} differ from the malformed payments produced ${JSON.stringify(malformed)}`);
    }
    console.log(`${malformed.length} malformed payments set aside as dead letters, each once`);
    console.log(`every one of ${records - malformed.length} well-formed payments added exactly once across a stop and restart`);
  } finally {
    await store.close();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.query('DELETE FROM public.dstream_offsets WHERE group_id = $1', [settings.group]).catch(() => undefined);
    await db.query('DELETE FROM public.dstream_dead_letters WHERE group_id = $1', [settings.group]).catch(() => undefined);
    await db.end();
  }
});
