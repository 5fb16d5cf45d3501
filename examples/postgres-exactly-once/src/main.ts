/**
 * Runs the balances job on a fresh topic and database schema: produces payments, lets one
 * StreamingContext sum about half of them, stops it, starts a new one that resumes from the
 * offsets in PostgreSQL, and checks that every balance equals the payments produced for it.
 *
 *   node dist/main.js [--records 2000]
 */
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import Kafka from 'node-rdkafka';
import { Client } from 'pg';
import { balancesJob, CREATE_BALANCES } from './balancesJob';

const ACCOUNTS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'];
const PARTITIONS = 3;

/** Payment `i`: deterministic, so the expected balances can be recomputed. */
const payment = (i: number) => ({ account: ACCOUNTS[(i * 5) % ACCOUNTS.length], cents: 100 + ((i * 37) % 900) });

async function createTopicAndProduce(brokers: string, topic: string, records: number): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers });
  await new Promise<void>((resolve, reject) =>
    admin.createTopic({ topic, num_partitions: PARTITIONS, replication_factor: 1 }, 15_000, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  admin.disconnect();
  const producer = new Kafka.Producer({ 'bootstrap.servers': brokers, 'enable.idempotence': true });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (error) => (error ? reject(error) : resolve())));
  for (let i = 0; i < records; i++) {
    const { account, cents } = payment(i);
    producer.produce(topic, i % PARTITIONS, Buffer.from(`${account},${cents}`));
  }
  await new Promise<void>((resolve, reject) => producer.flush(30_000, (error) => (error ? reject(error) : resolve())));
  await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
}

/** Sum of the offsets stored for the topic's partitions: the records committed so far. */
async function committed(store: PostgresOffsetStore, group: string, topic: string): Promise<number> {
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  const stored = await store.load(group, partitions);
  return [...stored.values()].reduce((sum, offset) => sum + offset, 0);
}

async function runUntil(settings: Parameters<typeof balancesJob>[0], store: PostgresOffsetStore, records: number): Promise<void> {
  const ssc = balancesJob(settings);
  await ssc.start();
  while ((await committed(store, settings.group, settings.topic)) < records) {
    await Promise.race([ssc.awaitTermination(), new Promise((resolve) => setTimeout(resolve, 200))]);
  }
  await ssc.stop({ graceful: true });
}

async function main(): Promise<void> {
  const flag = process.argv.indexOf('--records');
  const records = flag < 0 ? 2000 : Number(process.argv[flag + 1]);
  if (!Number.isInteger(records) || records < 2) throw new Error(`--records must be an integer of at least 2; got ${process.argv[flag + 1]}`);
  const brokers = process.env.DSTREAM_KAFKA_BROKERS ?? '127.0.0.1:9092';
  const topic = `dstream-balances-${Date.now()}`;
  // Each run keeps its balances in a schema of its own (first on the search_path), so runs never
  // mix; offsets go to the store's default public.dstream_offsets under the run's group.
  const schema = topic.replace(/-/g, '_');
  const url = new URL(process.env.DSTREAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/dstream');
  url.searchParams.set('options', `-c search_path=${schema}`);
  const connectionString = url.toString();
  const settings = { brokers, connectionString, topic, group: topic };

  const db = new Client({ connectionString });
  await db.connect();
  const store = new PostgresOffsetStore({ connectionString });
  try {
    await db.query(`CREATE SCHEMA ${schema}`);
    await db.query(CREATE_BALANCES);
    await createTopicAndProduce(brokers, topic, records);
    console.log(`produced ${records} payments to ${topic} (${PARTITIONS} partitions); results in schema ${schema}`);
    // A store of our own to watch progress: the one inside the job belongs to its stream.
    await store.connect();

    await runUntil(settings, store, records / 2);
    console.log(`first context stopped after ${await committed(store, settings.group, topic)} records`);
    const inspect = `SELECT partition, next_offset FROM public.dstream_offsets WHERE group_id = '${settings.group}' ORDER BY partition`;
    const { rows: offsets } = await db.query(inspect);
    console.log(`offsets: psql -c "${inspect}" -> ${JSON.stringify(offsets)}`);

    await runUntil(settings, store, records);
    console.log(`second context resumed from those offsets and stopped after ${await committed(store, settings.group, topic)} records`);

    const expected = new Map<string, number>();
    for (let i = 0; i < records; i++) {
      const { account, cents } = payment(i);
      expected.set(account, (expected.get(account) ?? 0) + cents);
    }
    const { rows } = await db.query<{ account: string; balance: string }>('SELECT account, balance FROM account_balances ORDER BY account');
    console.log(`balances: ${rows.map(({ account, balance }) => `${account}=${balance}`).join(' ')}`);
    const wrong = [...expected].filter(([account, cents]) => rows.find((row) => row.account === account)?.balance !== String(cents));
    if (wrong.length > 0 || rows.length !== expected.size) {
      throw new Error(`balances differ from the payments produced for: ${wrong.map(([account]) => account).join(', ')}`);
    }
    console.log(`every one of ${records} payments added exactly once across a stop and restart`);
  } finally {
    await store.close();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.query('DELETE FROM public.dstream_offsets WHERE group_id = $1', [settings.group]).catch(() => undefined);
    await db.end();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
