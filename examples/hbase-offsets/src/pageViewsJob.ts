import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import { HBaseOffsetStore } from '@dstream/offsets-hbase';

/** Where the job reads, where it keeps its offsets, and where its per-batch counts go. */
export interface PageViewsSettings {
  readonly brokers: string;
  /** URL of HBase's REST gateway, e.g. `http://127.0.0.1:18080`. */
  readonly hbaseRest: string;
  readonly topic: string;
  readonly group: string;
  /** The output: each batch's views are added here, page by page. */
  readonly totals: Map<string, number>;
}

/**
 * Counts page views (records whose value is the page path, keyed by visitor) per page in each
 * 500 ms batch, prints the batch's counts and adds them to `totals`. Offsets go to HBase's row
 * `group:<group>` of `dstream:offsets`, one `o:<topic>:<partition>` cell each, after the batch's output
 * (at-least-once, the default), with a `<topic>:<group>:<batchTime>` history row per batch: HBase
 * cannot hold the output in the same transaction, so a crash between the output and the commit
 * repeats that batch, and a graceful stop repeats nothing.
 *
 * @example
 * const ssc = pageViewsJob({ brokers: '127.0.0.1:9092', hbaseRest: 'http://127.0.0.1:18080', topic: 'page-views', group: 'page-counts', totals: new Map() });
 * await ssc.start();
 * await ssc.awaitTermination();
 */
export function pageViewsJob(settings: PageViewsSettings): StreamingContext {
  const ssc = new StreamingContext({ appName: 'page-views', batchIntervalMs: 500 });

  const views = KafkaUtils.createDirectStream<string | null, string>(ssc, {
    kafkaParams: { 'bootstrap.servers': settings.brokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Subscribe([settings.topic]),
    offsetStore: new HBaseOffsetStore({ url: settings.hbaseRest }),
    startingOffsets: 'earliest',
    // Bounds each batch (here 100 records per partition per 500 ms); raise it for real traffic.
    maxRatePerPartition: 200,
    keyDeserializer: 'string',
    valueDeserializer: 'string',
  });

  const perPage = views.map((view) => view.value).countByValue();
  perPage.transform((counts) => [...counts].sort((a, b) => b[1] - a[1]).map(([page, n]) => `${page} ${n}`)).print(3);
  perPage.foreachBatch((counts) => {
    for (const [page, n] of counts) settings.totals.set(page, (settings.totals.get(page) ?? 0) + n);
  });

  return ssc;
}
