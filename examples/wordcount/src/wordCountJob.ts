import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import type { BatchContext, Clock, OffsetRange, OffsetStore } from '@dstream/core';

/** What the word-count job needs to know. */
export interface WordCountOptions {
  readonly brokers: string;
  readonly topic: string;
  readonly group: string;
  readonly offsetStore: OffsetStore;
  readonly batchIntervalMs?: number;
  /** Most records per second read from one partition (bounds the first batch after downtime). */
  readonly maxRatePerPartition?: number;
  readonly clock?: Clock;
}

/** One completed batch, as the job reports it. */
export interface BatchReport {
  readonly time: number;
  readonly offsetRanges: readonly OffsetRange[];
  readonly records: number;
  readonly top: ReadonlyArray<readonly [string, number]>;
}

/**
 * Builds the word-count job on a new StreamingContext: sentences from `topic`, split into words,
 * counted per 1 s batch with reduceByKey, added to running totals; offsets go to `offsetStore`
 * after each batch's output (at-least-once; with a graceful stop nothing is read twice).
 *
 * @example
 * const job = wordCountJob({ brokers, topic: 'sentences', group: 'wordcount', offsetStore });
 * job.onBatch((report) => console.log(report));
 * await job.ssc.start();
 */
export function wordCountJob(options: WordCountOptions) {
  const ssc = new StreamingContext({ appName: 'wordcount', batchIntervalMs: options.batchIntervalMs ?? 1000, clock: options.clock });
  const totals = new Map<string, number>();
  const listeners: Array<(report: BatchReport) => void> = [];

  const sentences = KafkaUtils.createDirectStream<Buffer | null, string>(ssc, {
    kafkaParams: { 'bootstrap.servers': options.brokers, 'group.id': options.group },
    strategy: ConsumerStrategies.Subscribe([options.topic]),
    offsetStore: options.offsetStore,
    startingOffsets: 'earliest',
    valueDeserializer: 'string',
    maxRatePerPartition: options.maxRatePerPartition,
  });

  const counts = sentences
    .flatMap((record) => record.value.split(' '))
    .filter((word) => word.length > 0)
    .map((word) => [word, 1] as const)
    .reduceByKey((a, b) => a + b);

  counts.foreachBatch((wordCounts, batch: BatchContext) => {
    for (const [word, count] of wordCounts) totals.set(word, (totals.get(word) ?? 0) + count);
    const top = [...wordCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
    const records = batch.offsetRanges.reduce((sum, range) => sum + range.count, 0);
    const report: BatchReport = { time: batch.time, offsetRanges: batch.offsetRanges, records, top };
    for (const listener of listeners) listener(report);
  });

  return {
    ssc,
    totals,
    /** Calls `listener` after each batch's output, before its offsets are committed. */
    onBatch(listener: (report: BatchReport) => void): void {
      listeners.push(listener);
    },
  };
}
