import { InMemoryOffsetStore, KafkaUtils, OffsetRange, StreamingContext, consoleLogger, silentLogger } from '@dstream/core';
import type { BatchContext, ConsumerRecord, DirectStreamOptions } from '@dstream/core';
import { services, uniqueName } from '@dstream/test-utils';

/** Silent, unless DSTREAM_TEST_LOG is set: then the jobs' log lines go to the console. */
const testLogger = process.env.DSTREAM_TEST_LOG ? consoleLogger : silentLogger;

/** What a test's output saw of one batch. */
export interface SeenBatch {
  readonly time: number;
  readonly ranges: readonly OffsetRange[];
  readonly records: readonly ConsumerRecord<string | null, string | null>[];
}

/** Kafka consumer settings for a test: the local broker, a unique group. */
export function kafkaParams(group = uniqueName('group')): Record<string, string | number | boolean> {
  return { 'bootstrap.servers': services.kafkaBrokers, 'group.id': group, 'session.timeout.ms': 6000 };
}

/**
 * A running context with one direct stream whose output records every batch into `batches`;
 * `fail` lets a test make the output throw for a record.
 */
export function streamingJob(
  options: Partial<DirectStreamOptions<string | null, string | null>> &
    Pick<DirectStreamOptions<string | null, string | null>, 'strategy'> & {
      /** Runs in the output, after the batch was recorded (e.g. writes through the batch's transaction). */
      onBatch?: (records: readonly ConsumerRecord<string | null, string | null>[], batch: BatchContext) => void;
    },
  settings: {
    batchIntervalMs?: number;
    fail?: (record: ConsumerRecord<string | null, string | null>) => boolean;
    group?: string;
  } = {},
): { ssc: StreamingContext; batches: SeenBatch[]; store: InMemoryOffsetStore; group: string } {
  const group = settings.group ?? uniqueName('group');
  const store = (options.offsetStore as InMemoryOffsetStore | undefined) ?? new InMemoryOffsetStore();
  const ssc = new StreamingContext({
    appName: uniqueName('kafka-it'),
    batchIntervalMs: settings.batchIntervalMs ?? 300,
    stopOnSignals: false,
    logger: testLogger,
  });
  const { onBatch, ...streamOptions } = options;
  const stream = KafkaUtils.createDirectStream<string | null, string | null>(ssc, {
    kafkaParams: kafkaParams(group),
    keyDeserializer: 'string',
    valueDeserializer: 'string',
    connectTimeoutMs: 10_000,
    logger: testLogger,
    ...streamOptions,
    // An instance of its own on the store's memory: the stream closes it when it stops, and the
    // test (or the next job) goes on with the memory.
    offsetStore: new InMemoryOffsetStore(store),
  });
  const batches: SeenBatch[] = [];
  stream.foreachBatch(async (records, batch) => {
    for (const record of records) {
      if (settings.fail?.(record)) throw new Error(`refusing record ${record.value}`);
    }
    batches.push({ time: batch.time, ranges: batch.offsetRanges, records });
    onBatch?.(records, batch);
  });
  return { ssc, batches, store, group };
}

/** Every record value seen, in the order batches saw them. */
export function valuesOf(batches: readonly SeenBatch[]): string[] {
  return batches.flatMap((batch) => batch.records.map((record) => String(record.value)));
}

/**
 * Checks that the batches' ranges tile each partition: each range starts where the previous one
 * of its partition ended, and each batch's records are exactly its ranges' offsets.
 */
export function expectTiling(batches: readonly SeenBatch[]): Map<string, number> {
  const next = new Map<string, number>();
  for (const batch of batches) {
    for (const range of batch.ranges) {
      const previous = next.get(range.key);
      if (previous !== undefined) expect(range.fromOffset).toBe(previous);
      next.set(range.key, range.untilOffset);
      const offsets = batch.records
        .filter((r) => r.topic === range.topic && r.partition === range.partition)
        .map((r) => r.offset);
      expect(offsets).toEqual(Array.from({ length: range.count }, (_, i) => range.fromOffset + i));
    }
  }
  return next;
}
