/**
 * Runs `wordCountJob.js` as `dstream run --workers 2` does, with `runWorkers`: produces sentences
 * to a new 4-partition topic, starts two workers of one consumer group, lets worker 1 kill itself
 * (SIGKILL) after its third batch, and waits while the supervisor restarts it and the group
 * rebalances, until the offsets in Redis cover every record. Then it stops both workers with
 * SIGTERM and checks that the counts in Redis equal the words produced, each counted once.
 *
 *   node dist/main.js [--records 8000]
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorkers, SignalSource } from '@dstream/core';
import {
  brokersFromEnv,
  committedRecords,
  createTopic,
  expectedWordCounts,
  integerFlag,
  produce,
  redisUrlFromEnv,
  runMain,
  sentenceRecords,
} from '@dstream/example-support';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { Redis } from 'ioredis';

const WORDS = ['worker', 'group', 'partition', 'rebalance', 'restart', 'exactly', 'once', 'kafka', 'redis', 'count'];
const PARTITIONS = 4;
const WORKERS = 2;
/** Longest the workers get to commit every record. */
const DEADLINE_MS = 120_000;

runMain(async () => {
  const records = integerFlag(process.argv.slice(2), '--records', 8000, PARTITIONS);
  const brokers = brokersFromEnv();
  const topic = `dstream-workers-${Date.now()}`;
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  await createTopic(brokers, topic, PARTITIONS);
  await produce(brokers, topic, sentenceRecords(WORDS, records, PARTITIONS));
  console.log(`produced ${records} sentences to ${topic} (${PARTITIONS} partitions)`);

  const scratch = mkdtempSync(path.join(os.tmpdir(), 'dstream-workers-'));
  const store = new RedisOffsetStore({ url: redisUrlFromEnv() });
  await store.connect();
  const redis = new Redis(redisUrlFromEnv());
  const signals = new EventEmitter();
  const recordsByWorker = [0, 0];
  try {
    const supervising = runWorkers({
      jobFile: path.join(__dirname, 'wordCountJob.js'),
      args: [topic, '--crash-once', path.join(scratch, 'crashed')],
      workers: WORKERS,
      progressIntervalMs: 5000,
      signals: signals as unknown as SignalSource,
      onReport: (id, report) => {
        if (!report.failed) recordsByWorker[id] += report.numRecords;
      },
    });
    const deadline = Date.now() + DEADLINE_MS;
    while ((await committedRecords(store, topic, partitions)) < records) {
      if (Date.now() > deadline) {
        signals.emit('SIGTERM', 'SIGTERM');
        await supervising;
        throw new Error(`the workers committed ${await committedRecords(store, topic, partitions)} of ${records} records in ${DEADLINE_MS} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    signals.emit('SIGTERM', 'SIGTERM');
    const { exitCode, restarts } = await supervising;
    console.log(`workers stopped: exit code ${exitCode}, ${restarts} restart(s); records per worker ${JSON.stringify(recordsByWorker)}`);
    if (exitCode !== 0 || restarts !== 1) throw new Error(`expected a clean stop after one restart; got exit code ${exitCode}, ${restarts} restarts`);
    if (recordsByWorker.some((count) => count === 0)) throw new Error('a worker counted nothing: the group did not split the partitions');

    const expected = expectedWordCounts(WORDS, records);
    const counts = await redis.hgetall(`wordcount:${topic}`);
    console.log(`counts: redis-cli HGETALL wordcount:${topic} -> ${JSON.stringify(counts)}`);
    const wrong = [...expected].filter(([word, n]) => Number(counts[word]) !== n);
    if (wrong.length > 0 || Object.keys(counts).length !== expected.size) {
      throw new Error(`counts differ from the words produced for: ${wrong.map(([word]) => word).join(', ')}`);
    }
    console.log(`every word of ${records} sentences counted exactly once by ${WORKERS} workers, one of them killed and restarted`);
  } finally {
    await store.close();
    redis.disconnect();
    rmSync(scratch, { recursive: true, force: true });
  }
});
