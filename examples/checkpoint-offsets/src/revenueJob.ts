import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import { CheckpointOffsetStore } from '@dstream/offsets-checkpoint';

/** Where the job reads, where it checkpoints its offsets, and where its per-batch sums go. */
export interface RevenueSettings {
  readonly brokers: string;
  readonly topic: string;
  readonly group: string;
  /** The checkpoint directory: one subdirectory per group, one `offsets-<sequence>.json` per commit. */
  readonly directory: string;
  /** The output: each batch's revenue is added here, product by product, in cents. */
  readonly revenue: Map<string, number>;
}

/**
 * Sums order revenue (records `<product>,<cents>`) per product in each 500 ms batch, prints the
 * batch's sums and adds them to `revenue`. Offsets are checkpointed after the batch's output
 * (at-least-once, the default) as plain versioned JSON, which any later version of this code
 * reads back: a file cannot hold the output, so a crash between the output and the checkpoint
 * repeats that batch, and a graceful stop repeats nothing.
 *
 * @example
 * const ssc = revenueJob({ brokers: '127.0.0.1:9092', topic: 'orders', group: 'revenue', directory: '/var/lib/revenue/offsets', revenue: new Map() });
 * await ssc.start();
 * await ssc.awaitTermination();
 */
export function revenueJob(settings: RevenueSettings): StreamingContext {
  const ssc = new StreamingContext({ appName: 'order-revenue', batchIntervalMs: 500 });

  const orders = KafkaUtils.createDirectStream<Buffer | null, string>(ssc, {
    kafkaParams: { 'bootstrap.servers': settings.brokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Subscribe([settings.topic]),
    offsetStore: new CheckpointOffsetStore({ directory: settings.directory }),
    startingOffsets: 'earliest',
    // Bounds each batch (here 100 records per partition per 500 ms); raise it for real traffic.
    maxRatePerPartition: 200,
    valueDeserializer: 'string',
  });

  const perProduct = orders
    .map((order) => {
      const [product, cents] = order.value.split(',');
      return [product, Number(cents)] as const;
    })
    .reduceByKey((a, b) => a + b);

  perProduct.map(([product, cents]) => `${product} ${(cents / 100).toFixed(2)}`).print(3);
  perProduct.foreachBatch((sums) => {
    for (const [product, cents] of sums) settings.revenue.set(product, (settings.revenue.get(product) ?? 0) + cents);
  });

  return ssc;
}
