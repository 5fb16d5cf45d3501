/**
 * Runs the Redis word count on a fresh topic: produces sentences, lets one StreamingContext count
 * about half of them, stops it, starts a new one that resumes from the offsets in Redis, and checks
 * that the counts in Redis equal the words produced, each counted once.
 *
 *   node dist/main.js [--records 2000]
 */
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { Redis } from 'ioredis';
import Kafka from 'node-rdkafka';
import { countsKey, wordCountJob } from './wordCountJob';

const WORDS = ['stream', 'batch', 'offset', 'redis', 'commit', 'exactly', 'once', 'kafka', 'partition', 'restart'];
const PARTITIONS = 3;

/** Sentence `i`: 2 to 5 words, deterministic, so the expected counts can be recomputed. */
const sentence = (i: number) => Array.from({ length: 2 + (i % 4) }, (_, w) => WORDS[(i * 3 + w * 7) % WORDS.length]).join(' ');

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
  for (let i = 0; i < records; i++) producer.produce(topic, i % PARTITIONS, Buffer.from(sentence(i)));
  await new Promise<void>((resolve, reject) => producer.flush(30_000, (error) => (error ? reject(error) : resolve())));
  await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
}

/** Sum of the offsets stored for the topic's partitions: the records committed so far. */
async function committed(store: RedisOffsetStore, group: string, topic: string): Promise<number> {
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  const stored = await store.load(group, partitions);
  return [...stored.values()].reduce((sum, offset) => sum + offset, 0);
}

async function runUntil(settings: Parameters<typeof wordCountJob>[0], store: RedisOffsetStore, records: number): Promise<void> {
  const ssc = wordCountJob(settings);
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
  const redisUrl = process.env.DSTREAM_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const topic = `dstream-redis-offsets-${Date.now()}`;
  const settings = { brokers, redisUrl, topic, group: topic };

  await createTopicAndProduce(brokers, topic, records);
  console.log(`produced ${records} sentences to ${topic} (${PARTITIONS} partitions)`);

  // A store of our own to watch progress: the one inside the job belongs to its stream.
  const store = new RedisOffsetStore({ url: redisUrl });
  await store.connect();
  const redis = new Redis(redisUrl);
  try {
    await runUntil(settings, store, records / 2);
    console.log(`first context stopped after ${await committed(store, topic, topic)} records`);
    console.log(`offsets: redis-cli HGETALL dstream:offsets:${topic}:${topic} -> ${JSON.stringify(await redis.hgetall(`dstream:offsets:${topic}:${topic}`))}`);

    await runUntil(settings, store, records);
    console.log(`second context resumed from those offsets and stopped after ${await committed(store, topic, topic)} records`);

    const expected = new Map<string, number>();
    for (let i = 0; i < records; i++) for (const word of sentence(i).split(' ')) expected.set(word, (expected.get(word) ?? 0) + 1);
    const counts = await redis.hgetall(countsKey(topic));
    console.log(`counts: redis-cli HGETALL ${countsKey(topic)} -> ${JSON.stringify(counts)}`);
    const wrong = [...expected].filter(([word, n]) => Number(counts[word]) !== n);
    if (wrong.length > 0 || Object.keys(counts).length !== expected.size) {
      throw new Error(`counts differ from the words produced for: ${wrong.map(([word]) => word).join(', ')}`);
    }
    console.log(`every word of ${records} sentences counted exactly once across a stop and restart`);
  } finally {
    await store.close();
    redis.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
