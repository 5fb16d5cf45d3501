/**
 * Runs the Redis word count on a fresh topic: produces sentences, lets one StreamingContext count
 * about half of them, stops it, starts a new one that resumes from the offsets in Redis, and checks
 * that the counts in Redis equal the words produced, each counted once.
 *
 *   node dist/main.js [--records 2000]
 */
import {
  brokersFromEnv,
  committedRecords,
  createTopic,
  expectedWordCounts,
  integerFlag,
  produce,
  redisUrlFromEnv,
  runMain,
  runUntilCommitted,
  sentenceRecords,
} from '@dstream/example-support';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { Redis } from 'ioredis';
import { countsKey, wordCountJob } from './wordCountJob';

const WORDS = ['stream', 'batch', 'offset', 'redis', 'commit', 'exactly', 'once', 'kafka', 'partition', 'restart'];
const PARTITIONS = 3;

runMain(async () => {
  const records = integerFlag(process.argv.slice(2), '--records', 2000, 2);
  const brokers = brokersFromEnv();
  const redisUrl = redisUrlFromEnv();
  const topic = `dstream-redis-offsets-${Date.now()}`;
  const settings = { brokers, redisUrl, topic, group: topic };
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));

  await createTopic(brokers, topic, PARTITIONS);
  await produce(brokers, topic, sentenceRecords(WORDS, records, PARTITIONS));
  console.log(`produced ${records} sentences to ${topic} (${PARTITIONS} partitions)`);

  // A store of our own to watch progress: the one inside the job belongs to its stream.
  const store = new RedisOffsetStore({ url: redisUrl });
  await store.connect();
  const redis = new Redis(redisUrl);
  try {
    const firstStop = await runUntilCommitted(wordCountJob(settings), store, topic, partitions, records / 2);
    console.log(`first context stopped after ${firstStop} records`);
    console.log(`offsets: redis-cli HGETALL dstream:offsets:${topic}:${topic} -> ${JSON.stringify(await redis.hgetall(`dstream:offsets:${topic}:${topic}`))}`);

    await runUntilCommitted(wordCountJob(settings), store, topic, partitions, records);
    console.log(`second context resumed from those offsets and stopped after ${await committedRecords(store, topic, partitions)} records`);

    const expected = expectedWordCounts(WORDS, records);
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
});
