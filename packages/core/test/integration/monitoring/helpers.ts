import { ConsumerStrategies, InMemoryOffsetStore, KafkaUtils, StreamingContext, silentLogger } from '@dstream/core';
import type { BatchInfo, MetricsOptions, OffsetCommitCompletedEvent, UiOptions } from '@dstream/core';
import { filter, firstValueFrom } from 'rxjs';
import { uniqueName } from '@dstream/test-utils';
import { kafkaParams } from '../kafka/helpers';

/** A running job over `partitions` of `topic` that records every batch and every commit it reports. */
export function monitoredJob(
  topic: string,
  partitions: readonly number[],
  settings: { metrics?: MetricsOptions; ui?: UiOptions; batchIntervalMs?: number; maxRatePerPartition?: number },
) {
  const ssc = new StreamingContext({
    appName: uniqueName('monitored'),
    batchIntervalMs: settings.batchIntervalMs ?? 1000,
    stopOnSignals: false,
    logger: silentLogger,
    metrics: settings.metrics,
    ui: settings.ui,
  });
  const stream = KafkaUtils.createDirectStream<string | null, string | null>(ssc, {
    kafkaParams: kafkaParams(),
    strategy: ConsumerStrategies.Assign(partitions.map((partition) => ({ topic, partition }))),
    offsetStore: new InMemoryOffsetStore(),
    startingOffsets: 'earliest',
    maxRatePerPartition: settings.maxRatePerPartition,
    valueDeserializer: 'string',
  });
  stream.foreachBatch(async () => {
    // Some work per batch, so processing times are not all zero.
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
  const completed: BatchInfo[] = [];
  const commits: OffsetCommitCompletedEvent[] = [];
  ssc.addStreamingListener({
    onBatchCompleted: ({ info }) => void completed.push(info),
    onOffsetCommitCompleted: (event) => void commits.push(event),
  });
  /** Records of completed batches per partition, from their ranges. */
  const recordsOf = (partition: number) =>
    completed.flatMap((info) => info.offsetRanges).filter((r) => r.partition === partition).reduce((sum, r) => sum + r.count, 0);
  /** Resolves right after the next batch completes: the moment to compare, the next one is an interval away. */
  const nextBatch = () => firstValueFrom(ssc.events$.pipe(filter((event) => event.type === 'BatchCompleted')));
  return { ssc, completed, commits, recordsOf, nextBatch };
}
