import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';

/** Where the job reads, and what it does with each batch's counts. */
export interface WordCountSettings {
  readonly brokers: string;
  readonly topic: string;
  readonly group: string;
  /** The job's output: receives each batch's word counts. Put your sink here (a database, an API, a topic). */
  readonly output: (counts: ReadonlyArray<readonly [string, number]>) => Promise<void> | void;
}

/**
 * Counts the words of `topic` per batch and hands the counts to `output`; once `output` returned,
 * the batch's offsets are committed to the consumer group `group` (at-least-once, the default
 * delivery). The group's offsets are the ones Kafka's own tools show: `kafka-consumer-groups
 * --describe --group <group>` lists each partition's position and lag.
 *
 * @example
 * const ssc = wordCountJob({ brokers: '127.0.0.1:9092', topic: 'lines', group: 'wc', output: (counts) => console.log(counts) });
 * await ssc.start();
 * await ssc.awaitTermination();
 */
export function wordCountJob(settings: WordCountSettings): StreamingContext {
  const ssc = new StreamingContext({ appName: 'kafka-word-count', batchIntervalMs: 500 });

  const lines = KafkaUtils.createDirectStream<Buffer | null, string>(ssc, {
    kafkaParams: { 'bootstrap.servers': settings.brokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Subscribe([settings.topic]),
    // Connected by the stream: reads and commits the group's offsets through the stream's consumer.
    offsetStore: new KafkaOffsetStore(),
    delivery: 'at-least-once',
    startingOffsets: 'earliest',
    // Bounds each batch (here 100 records per partition per 500 ms); raise it for real traffic.
    maxRatePerPartition: 200,
    valueDeserializer: 'string',
  });

  lines
    .flatMap((line) => line.value.split(' '))
    .map((word) => [word, 1] as const)
    .reduceByKey((a, b) => a + b)
    .foreachBatch((counts) => settings.output(counts));

  return ssc;
}
