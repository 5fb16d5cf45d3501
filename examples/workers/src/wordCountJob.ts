/**
 * The job file every worker runs, unchanged from how it would run alone (`node wordCountJob.js
 * <topic>`) or on several machines: a word count whose counts are added to the Redis hash
 * `wordcount:<topic>` with `HINCRBY` in the same MULTI/EXEC as the batch's offsets. Each worker
 * counts the words of the partitions the group gave it; the hash adds the workers' counts up.
 *
 *   dstream run --workers 2 dist/wordCountJob.js <topic>
 *
 * `--crash-once <file>`: the worker with `DSTREAM_WORKER_ID` 1 kills itself (SIGKILL, nothing
 * flushed) after its third batch with records, unless `<file>` exists, which it creates first:
 * the demonstration of a crash and a restart in `main.ts`.
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { ConsumerStrategies, KafkaUtils, StreamingContext, WORKER_ID_VARIABLE } from '@dstream/core';
import { brokersFromEnv, redisUrlFromEnv } from '@dstream/example-support';
import { RedisOffsetStore } from '@dstream/offsets-redis';

/** The Redis hash holding the running count of each word of `topic`. */
export const countsKey = (topic: string) => `wordcount:${topic}`;

const [topic, flag, crashMarker] = process.argv.slice(2);
if (topic === undefined || (flag !== undefined && (flag !== '--crash-once' || crashMarker === undefined))) {
  console.error('usage: wordCountJob.js <topic> [--crash-once <file>]');
  process.exit(2);
}

const workerId = process.env[WORKER_ID_VARIABLE];
const ssc = new StreamingContext({ appName: 'workers-word-count', batchIntervalMs: 500 });
const lines = KafkaUtils.createDirectStream(ssc, {
  kafkaParams: {
    'bootstrap.servers': brokersFromEnv(),
    // One group for every worker: Kafka splits the topic's partitions between them.
    'group.id': topic,
    // A static member per worker slot: a restarted worker takes its partitions back at once
    // instead of waiting out the dead process's session.
    ...(workerId === undefined ? {} : { 'group.instance.id': `${topic}-${os.hostname()}-${workerId}` }),
  },
  strategy: ConsumerStrategies.Subscribe([topic]),
  offsetStore: new RedisOffsetStore({ url: redisUrlFromEnv() }),
  delivery: 'exactly-once',
  startingOffsets: 'earliest',
  // Small batches, so that the crash below lands mid-topic; raise it for real traffic.
  maxRatePerPartition: 400,
  valueDeserializer: 'string',
});

lines
  .flatMap((line) => line.value.split(' '))
  .map((word) => [word, 1] as const)
  .reduceByKey((a, b) => a + b)
  .foreachBatch((counts, { transaction }) => {
    for (const [word, n] of counts) transaction.hincrby(countsKey(topic), word, n);
  });

if (crashMarker !== undefined && workerId === '1') {
  let batchesWithRecords = 0;
  ssc.addStreamingListener({
    onBatchCompleted: ({ info }) => {
      if (info.numRecords === 0 || existsSync(crashMarker) || ++batchesWithRecords < 3) return;
      writeFileSync(crashMarker, `worker 1 killed itself after batch ${info.batchTimeMs}\n`);
      process.kill(process.pid, 'SIGKILL');
    },
  });
}

// SIGTERM (forwarded by the supervisor): finish the batch in flight, commit it, exit 0.
ssc.start().then(() => ssc.awaitTermination());
