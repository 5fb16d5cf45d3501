import path from 'node:path';
import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import type { Clock, OffsetStore } from '@dstream/core';
import { type AdEvent, type AdTotals, parseAdEvent } from './adEvents';

/** What the click-through job needs to know. */
export interface ClickThroughOptions {
  readonly brokers: string;
  readonly impressionsTopic: string;
  readonly clicksTopic: string;
  readonly group: string;
  readonly offsetStore: OffsetStore;
  /** Directory the per-batch files `ctr-<time>.jsonl` are written to. */
  readonly outDir: string;
  readonly batchIntervalMs?: number;
  readonly clock?: Clock;
}

/** One ad's click-through in one batch: a line of the printed output and of the `.jsonl` files. */
export interface AdClickThrough {
  readonly adId: string;
  readonly impressions: number;
  /** Clicks on the ad in the same batch (0 when it had none). */
  readonly clicks: number;
  /** clicks / impressions. */
  readonly clickThroughRate: number;
}

/** A row as `print` shows it. */
export function formatRow(row: AdClickThrough): string {
  const rate = `${(row.clickThroughRate * 100).toFixed(1)}%`;
  return `${row.adId.padEnd(6)} impressions=${String(row.impressions).padEnd(5)} clicks=${String(row.clicks).padEnd(4)} ctr=${rate}`;
}

/**
 * Builds the click-through job on a new StreamingContext: impressions and clicks from their two
 * topics, counted per ad in each batch and joined by ad id (`leftOuterJoin`: every ad shown in
 * the batch gets a row, clicked or not). Rows are printed and written to `<outDir>/ctr-<time>.jsonl`;
 * per-ad totals accumulate in `totals`. Offsets go to `offsetStore` after each batch's outputs
 * (at-least-once).
 *
 * @example
 * const job = clickThroughJob({ brokers, impressionsTopic, clicksTopic, group, offsetStore, outDir });
 * await job.ssc.start();
 * await job.ssc.awaitTermination();
 */
export function clickThroughJob(options: ClickThroughOptions) {
  const { impressionsTopic, clicksTopic } = options;
  const ssc = new StreamingContext({
    appName: 'clickstream-join',
    batchIntervalMs: options.batchIntervalMs ?? 1000,
    clock: options.clock,
  });
  const totals = new Map<string, AdTotals>();
  const totalOf = (adId: string): AdTotals => {
    let entry = totals.get(adId);
    if (entry === undefined) totals.set(adId, (entry = { impressions: 0, clicks: 0 }));
    return entry;
  };
  let joinedClicks = 0;

  // One direct stream over both topics rather than one per topic: a batch's impression and click
  // ranges are planned at the same tick and committed in one compare-and-set commit, so after a
  // restart both sides resume from the same batch.
  const events = KafkaUtils.createDirectStream<Buffer | null, AdEvent>(ssc, {
    kafkaParams: { 'bootstrap.servers': options.brokers, 'group.id': options.group },
    strategy: ConsumerStrategies.Subscribe([impressionsTopic, clicksTopic]),
    offsetStore: options.offsetStore,
    startingOffsets: 'earliest',
    valueDeserializer: parseAdEvent,
  });

  // Both filters read the same batch of `events`: it is fetched once and shared.
  const countPerAd = (topic: string) =>
    events
      .filter((record) => record.topic === topic)
      .map((record) => [record.value.adId, 1] as const)
      .reduceByKey((a, b) => a + b);
  const impressionsPerAd = countPerAd(impressionsTopic);
  const clicksPerAd = countPerAd(clicksTopic);

  const clickThrough = impressionsPerAd
    .leftOuterJoin(clicksPerAd)
    .map(([adId, [impressions, clicks = 0]]): AdClickThrough => ({
      adId,
      impressions,
      clicks,
      clickThroughRate: clicks / impressions,
    }))
    .transform((rows) => [...rows].sort((a, b) => (a.adId < b.adId ? -1 : a.adId > b.adId ? 1 : 0)));

  clickThrough.map(formatRow).print(20);
  clickThrough.saveAsTextFiles(path.join(options.outDir, 'ctr'), 'jsonl');
  clickThrough.foreachBatch((rows) => {
    for (const row of rows) {
      totalOf(row.adId).impressions += row.impressions;
      joinedClicks += row.clicks;
    }
  });
  // Clicks are totalled from their own counts: a click whose ad had no impression in the same
  // batch has no row in the left outer join.
  clicksPerAd.foreachBatch((counts) => {
    for (const [adId, clicks] of counts) totalOf(adId).clicks += clicks;
  });

  return {
    ssc,
    /** Impressions and clicks per ad over every completed batch. */
    totals,
    /** Clicks that met an impression of their ad in the same batch, so appear in a row. */
    get joinedClicks(): number {
      return joinedClicks;
    },
  };
}
