import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import { RedisOffsetStore } from '@dstream/offsets-redis';

/** Where the job reads and writes. */
export interface WordCountSettings {
  readonly brokers: string;
  readonly redisUrl: string;
  readonly topic: string;
  readonly group: string;
}

/** The Redis hash holding the running count of each word. */
export const countsKey = (topic: string) => `wordcount:${topic}`;

/**
 * Counts the words of `topic` into the Redis hash `wordcount:<topic>`. Each batch's HINCRBYs are
 * queued on the store's MULTI and applied in the same EXEC as the batch's offsets: a crash at any
 * moment leaves either both or neither, so every word is counted exactly once.
 *
 * @example
 * const ssc = wordCountJob({ brokers: '127.0.0.1:9092', redisUrl: 'redis://127.0.0.1:6379', topic: 'lines', group: 'wc' });
 * await ssc.start();
 * await ssc.awaitTermination();
 */
export function wordCountJob(settings: WordCountSettings): StreamingContext {
  const ssc = new StreamingContext({ appName: 'redis-word-count', batchIntervalMs: 500 });

  const lines = KafkaUtils.createDirectStream(ssc, {
    kafkaParams: { 'bootstrap.servers': settings.brokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Subscribe([settings.topic]),
    offsetStore: new RedisOffsetStore({ url: settings.redisUrl }),
    delivery: 'exactly-once',
    startingOffsets: 'earliest',
    // Bounds each batch (here 100 records per partition per 500 ms); raise it for real traffic.
    maxRatePerPartition: 200,
    valueDeserializer: 'string',
  });

  lines
    .flatMap((line) => line.value.split(' '))
    .map((word) => [word, 1] as const)
    .reduceByKey((a, b) => a + b)
    .foreachBatch((counts, { transaction }) => {
      for (const [word, n] of counts) transaction.hincrby(countsKey(settings.topic), word, n);
    });

  return ssc;
}
