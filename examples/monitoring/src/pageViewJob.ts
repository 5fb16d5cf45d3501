import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import type { MetricsOptions, UiOptions } from '@dstream/core';
import { RedisOffsetStore } from '@dstream/offsets-redis';

/** Where the job reads, keeps its offsets and serves its metrics and page. */
export interface PageViewSettings {
  readonly brokers: string;
  readonly redisUrl: string;
  readonly topic: string;
  readonly group: string;
  readonly metrics: MetricsOptions;
  readonly ui: UiOptions;
  /** Views counted so far, per page; the job adds each batch's counts. */
  readonly views: Map<string, number>;
}

/**
 * Page views counted per page in 1 s batches, offsets in Redis, with the two things an operator
 * watches: Prometheus metrics (`metrics: { port }`) and the batch timeline page (`ui: { port }`).
 */
export function pageViewJob(settings: PageViewSettings): StreamingContext {
  const ssc = new StreamingContext({
    appName: 'page-views',
    batchIntervalMs: 1000,
    metrics: settings.metrics,
    ui: settings.ui,
  });
  const views = KafkaUtils.createDirectStream<string | null, string>(ssc, {
    kafkaParams: { 'bootstrap.servers': settings.brokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Subscribe([settings.topic]),
    offsetStore: new RedisOffsetStore({ url: settings.redisUrl }),
    startingOffsets: 'earliest',
    keyDeserializer: 'string',
    valueDeserializer: 'string',
    // Bounds each batch (300 records per partition per second), so a backlog shows as lag.
    maxRatePerPartition: 300,
  });
  views
    .map((view) => view.value)
    .countByValue()
    .foreachBatch(async (counts, batch) => {
      let total = 0;
      for (const [page, count] of counts) {
        settings.views.set(page, (settings.views.get(page) ?? 0) + count);
        total += count;
      }
      const top = [...counts].sort((a, b) => b[1] - a[1])[0];
      console.log(`batch ${new Date(batch.time).toISOString().slice(11, 19)}: ${total} views${top ? `, most on ${top[0]} (${top[1]})` : ''}`);
    });
  return ssc;
}
