/**
 * End-to-end throughput of a word count over Kafka: a 4-partition topic filled with ~100-byte
 * keyed sentences, read to the end by a raw node-rdkafka `consume(n)` loop (the baseline, at a
 * few values of n, the fastest kept) and by the same count as a dstream job
 * (`createDirectStream` → flatMap → map → reduceByKey → foreachBatch) at several batch intervals,
 * all in the same run. The jobs' `maxRatePerPartition` is twice the baseline's per-partition rate
 * (see `main`). Every variant's word totals must equal the producer's, or the run fails.
 *
 * Build (`npx tsc -b bench`), start the services (`scripts/services up`), then
 * `node --expose-gc bench/dist/throughput.js`. `BENCH_RECORDS` overrides the record count.
 */
import { ConsumerStrategies, InMemoryOffsetStore, KafkaUtils, StreamingContext, silentLogger } from '@dstream/core';
import { createTopic, deleteTopic, produceSentences, rawWordCount } from './lib/kafka';
import { services } from './lib/services';
import { differenceOf } from './lib/words';
import { elapsedMs, formatRate } from './lib/stats';

const RECORD_COUNT = Number(process.env.BENCH_RECORDS ?? 2_000_000);
const PARTITIONS = 4;
const RECORD_BYTES = 100;
/** `consume(n)` sizes the baseline tries; the fastest is the baseline. */
const RAW_BATCH_SIZES = [1000, 10_000];
const BATCH_INTERVALS_MS = [1000, 200];
/** A job still short of the count after this long has stalled: fail rather than hang. */
const JOB_TIMEOUT_MS = 600_000;

/** How one dstream run is configured. */
interface JobVariant {
  readonly label: string;
  readonly batchIntervalMs: number;
  /** Per-partition cap, records per second: a batch reads at most this × the interval per partition. */
  readonly maxRatePerPartition: number;
}

interface Result {
  readonly label: string;
  readonly ms: number;
  readonly totals: ReadonlyMap<string, number>;
  readonly detail: string;
}

/**
 * Runs the word count as a dstream job until its committed batches cover every record, and
 * returns the time from `start()` to the completion of that batch.
 */
async function dstreamWordCount(topic: string, variant: JobVariant): Promise<Result> {
  const ssc = new StreamingContext({
    appName: 'bench-throughput',
    batchIntervalMs: variant.batchIntervalMs,
    stopOnSignals: false,
    logger: silentLogger,
  });
  const batchRangePerPartition = Math.ceil((variant.maxRatePerPartition * variant.batchIntervalMs) / 1000);
  const lines = KafkaUtils.createDirectStream<Buffer | null, string>(ssc, {
    kafkaParams: { 'bootstrap.servers': services.kafkaBrokers, 'group.id': `dstream-bench-${process.pid}-${Date.now()}` },
    strategy: ConsumerStrategies.Assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }))),
    offsetStore: new InMemoryOffsetStore(),
    startingOffsets: 'earliest',
    valueDeserializer: 'string',
    maxRatePerPartition: variant.maxRatePerPartition,
    // The fetcher pauses a partition once this many records wait in its buffer, and a batch only
    // completes once its whole range was fetched, so the buffer must hold a batch's range; two
    // let the next batch's records arrive while one is processed.
    maxBufferedRecordsPerPartition: 2 * batchRangePerPartition,
    logger: silentLogger,
  });
  const totals = new Map<string, number>();
  lines
    .flatMap((record) => record.value.split(' '))
    .map((word) => [word, 1] as const)
    .reduceByKey((a, b) => a + b)
    .foreachBatch((counts) => {
      for (const [word, count] of counts) totals.set(word, (totals.get(word) ?? 0) + count);
    });

  let covered = 0;
  let batches = 0;
  let largestBatch = 0;
  let finished!: (ms: number) => void;
  const done = new Promise<number>((resolve) => (finished = resolve));
  const started = process.hrtime.bigint();
  ssc.addStreamingListener({
    onBatchCompleted: ({ info }) => {
      if (info.failure !== undefined || info.numRecords === 0) return;
      batches += 1;
      largestBatch = Math.max(largestBatch, info.numRecords);
      covered += info.offsetRanges.reduce((sum, range) => sum + range.count, 0);
      if (covered >= RECORD_COUNT) finished(elapsedMs(started));
    },
  });
  await ssc.start();
  let timer: NodeJS.Timeout | undefined;
  try {
    // A failed batch stops the context: surface its error instead of waiting forever.
    const ms = await Promise.race([
      done,
      ssc.awaitTermination().then(() => Promise.reject(new Error(`${variant.label}: the job stopped early`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${variant.label}: ${covered} of ${RECORD_COUNT} records after ${JOB_TIMEOUT_MS} ms`)),
          JOB_TIMEOUT_MS,
        );
      }),
    ]);
    return { label: variant.label, ms, totals, detail: `${batches} batches, largest ${largestBatch} records` };
  } finally {
    clearTimeout(timer);
    await ssc.stop({ graceful: false });
  }
}

async function main(): Promise<void> {
  const topic = `dstream-bench-throughput-${Date.now()}`;
  console.log(
    `throughput: ${RECORD_COUNT} records of ~${RECORD_BYTES} bytes in ${PARTITIONS} partitions of ${topic} at ` +
      `${services.kafkaBrokers}; word count (split on spaces, count per word)`,
  );
  await createTopic(services.kafkaBrokers, topic, PARTITIONS);
  try {
    const produced = await produceSentences(services.kafkaBrokers, topic, RECORD_COUNT, RECORD_BYTES);
    console.log(
      `produce: ${(produced.ms / 1000).toFixed(2)} s, ${formatRate((RECORD_COUNT / produced.ms) * 1000)}, ` +
        `${((produced.bytes / produced.ms) * 1000 / 2 ** 20).toFixed(1)} MiB/s of values, ${produced.totals.size} distinct words`,
    );

    let isCorrect = true;
    let baselineMs: number | undefined;
    /** Prints one variant's line as soon as it ran, with its check against the producer's totals. */
    const report = (result: Result) => {
      const difference = differenceOf(result.totals, produced.totals);
      if (difference !== null) isCorrect = false;
      const ratio = baselineMs === undefined ? '' : `${(baselineMs / result.ms).toFixed(2)}× raw`;
      console.log(
        `${difference === null ? '✓' : '✗'} ${result.label.padEnd(40)} ${(result.ms / 1000).toFixed(2).padStart(6)} s  ` +
          `${formatRate((RECORD_COUNT / result.ms) * 1000).padStart(10)}  ${ratio.padEnd(9)}  (${result.detail})` +
          (difference === null ? '' : `  MISMATCH: ${difference}`),
      );
    };

    const raws: Result[] = [];
    for (const size of RAW_BATCH_SIZES) {
      (globalThis as { gc?: () => void }).gc?.();
      const raw = await rawWordCount(services.kafkaBrokers, topic, PARTITIONS, RECORD_COUNT, size);
      raws.push({ label: `raw KafkaConsumer consume(${size})`, ...raw, detail: 'connect → last record counted' });
      report(raws[raws.length - 1]);
    }
    const baseline = raws.reduce((best, raw) => (raw.ms < best.ms ? raw : best));
    baselineMs = baseline.ms;
    console.log(`baseline: ${baseline.label} (the fastest); ✓ = word totals equal the producer's`);
    // Every record is in the topic before the job starts, so without a rate limit the first batch
    // is the whole topic, materialized at once. A cap of twice the baseline's per-partition rate
    // cannot bind a job that is slower than twice the baseline, yet splits the backlog into
    // batches of bounded size, as a job catching up on a lag runs.
    const maxRatePerPartition = Math.ceil(((2 * RECORD_COUNT) / PARTITIONS / baseline.ms) * 1000);
    for (const batchIntervalMs of BATCH_INTERVALS_MS) {
      (globalThis as { gc?: () => void }).gc?.();
      report(await dstreamWordCount(topic, { label: `dstream, ${batchIntervalMs} ms batches`, batchIntervalMs, maxRatePerPartition }));
    }
    if (!isCorrect) process.exitCode = 1;
  } finally {
    await deleteTopic(services.kafkaBrokers, topic).catch((error: unknown) => console.error(`cleanup: ${(error as Error).message}`));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
