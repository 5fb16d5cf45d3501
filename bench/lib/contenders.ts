/**
 * The contenders of the throughput benchmark: the same word count (split each value on spaces,
 * count per word) read to the end of one topic by a tuned raw node-rdkafka loop, by KafkaJS's
 * `eachBatch`, and by a dstream job written as the README writes one. Each runs in a child
 * process of its own (`throughputContender.ts`), so its resident memory is its own.
 */
import { EventEmitter } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConsumerStrategies, KafkaUtils, StreamingContext, runWorkers, silentLogger } from '@dstream/core';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';
import { Kafka, logLevel } from 'kafkajs';
import * as RdKafka from 'node-rdkafka';
import { kafkaFailure } from './kafka';
import { runSparkWordCount } from './spark';
import { elapsedMs } from './stats';
import { countWords } from './words';

/**
 * The fetch settings that take a `consume(10000)` loop to librdkafka's ceiling on this machine
 * (docs/benchmarks.md): fetches of at least 1 MiB, a deep prefetch queue.
 */
export const TUNED_FETCH = {
  'fetch.min.bytes': 1_048_576,
  'fetch.wait.max.ms': 100,
  'queued.min.messages': 1_000_000,
  'queued.max.messages.kbytes': 1_048_576,
} as const;

/** What a contender is asked to do: read `records` records of `topic` from the start. */
export interface ContenderTask {
  readonly kind: 'raw' | 'kafkajs' | 'dstream' | 'dstream-workers' | 'spark';
  readonly brokers: string;
  readonly topic: string;
  readonly partitions: number;
  readonly records: number;
  /** dstream and spark: the batch interval, default 1000 ms. */
  readonly batchIntervalMs?: number;
  /** dstream only: a per-partition rate cap (records/s); default none. */
  readonly maxRatePerPartition?: number;
  /** dstream only: `maxBatchBytes`; default the stream's default. */
  readonly maxBatchBytes?: number;
  /** dstream only: who fetches the records (the stream's `fetchEngine`); default the stream's default. */
  readonly fetchEngine?: 'wire' | 'librdkafka';
  /** dstream-workers only: how many worker processes `runWorkers` starts (default 2). */
  readonly workers?: number;
}

/** What a contender measured of itself. */
export interface CountResult {
  readonly totals: Map<string, number>;
  /** From creating the client to the last record counted (dstream: to the completion of the batch that covered it). */
  readonly ms: number;
  /** dstream only: each batch's scheduling delay (ms). */
  readonly schedulingDelaysMs?: readonly number[];
  readonly detail: string;
  /**
   * spark: the JVM's peak RSS; dstream-workers: the largest peak RSS of one worker (the child
   * process that reports is not the one that works).
   */
  readonly peakRssBytes?: number;
}

/** Runs one contender. */
export function runContender(task: ContenderTask): Promise<CountResult> {
  switch (task.kind) {
    case 'raw':
      return rawTuned(task);
    case 'kafkajs':
      return kafkajsEachBatch(task);
    case 'dstream':
      return dstreamJob(task);
    case 'dstream-workers':
      return dstreamWorkers(task);
    case 'spark':
      return sparkJob(task);
  }
}

/** A bare `KafkaConsumer` assigned from offset 0, non-flowing `consume(10000)` in a loop, with `TUNED_FETCH`. */
async function rawTuned({ brokers, topic, partitions, records }: ContenderTask): Promise<CountResult> {
  const started = process.hrtime.bigint();
  const consumer = new RdKafka.KafkaConsumer(
    {
      'bootstrap.servers': brokers,
      'group.id': `dstream-bench-raw-${process.pid}-${Date.now()}`,
      'enable.auto.commit': false,
      ...TUNED_FETCH,
    },
    {},
  );
  const totals = new Map<string, number>();
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ timeout: 10_000 }, (error) => (error ? reject(kafkaFailure(`connect a consumer to ${brokers}`, error)) : resolve())),
  );
  try {
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
    consumer.setDefaultConsumeTimeout(100);
    let seen = 0;
    while (seen < records) {
      const messages = await new Promise<RdKafka.Message[]>((resolve, reject) =>
        consumer.consume(10_000, (error, batch) => (error ? reject(kafkaFailure(`consume from ${topic}`, error)) : resolve(batch))),
      );
      for (const message of messages) countWords((message.value as Buffer).toString('utf8'), totals);
      seen += messages.length;
    }
    return { totals, ms: elapsedMs(started), detail: 'consume(10000), tuned fetch' };
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}

/** KafkaJS 2.2.4 with its defaults: a group subscribed from the beginning, `eachBatch`. */
async function kafkajsEachBatch({ brokers, topic, records }: ContenderTask): Promise<CountResult> {
  const started = process.hrtime.bigint();
  const kafka = new Kafka({ clientId: 'dstream-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `dstream-bench-kafkajs-${process.pid}-${Date.now()}` });
  const totals = new Map<string, number>();
  let seen = 0;
  let finished!: (ms: number) => void;
  const done = new Promise<number>((resolve) => (finished = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) countWords((message.value as Buffer).toString('utf8'), totals);
        seen += batch.messages.length;
        if (seen >= records) finished(elapsedMs(started));
      },
    });
    const ms = await done;
    return { totals, ms, detail: 'eachBatch, defaults' };
  } finally {
    await consumer.disconnect();
  }
}

/** A word-count job as the README writes one, defined on `ssc`; `totals` receives each batch's counts. */
export function defineWordCount(ssc: StreamingContext, task: ContenderTask, groupId: string, totals: Map<string, number>): void {
  const { brokers, topic, maxRatePerPartition, maxBatchBytes, fetchEngine } = task;
  const lines = KafkaUtils.createDirectStream<Buffer | null, string>(ssc, {
    kafkaParams: { 'bootstrap.servers': brokers, 'group.id': groupId },
    strategy: ConsumerStrategies.Subscribe([topic]),
    offsetStore: new KafkaOffsetStore(),
    startingOffsets: 'earliest',
    valueDeserializer: 'string',
    maxRatePerPartition,
    maxBatchBytes,
    fetchEngine,
    logger: silentLogger,
  });
  lines
    .flatMap((record) => record.value.split(' '))
    .map((word) => [word, 1] as const)
    .reduceByKey((a, b) => a + b)
    .foreachBatch((counts) => {
      for (const [word, count] of counts) totals.set(word, (totals.get(word) ?? 0) + count);
    });
}

/**
 * The word count as the README writes a job: `Subscribe`, `KafkaOffsetStore`, every other option
 * at its default but `startingOffsets: 'earliest'` (the records are there before it starts).
 */
async function dstreamJob(task: ContenderTask): Promise<CountResult> {
  const { records, batchIntervalMs = 1000 } = task;
  const started = process.hrtime.bigint();
  const ssc = new StreamingContext({ appName: 'bench-throughput', batchIntervalMs, stopOnSignals: false, logger: silentLogger });
  const totals = new Map<string, number>();
  defineWordCount(ssc, task, `dstream-bench-job-${process.pid}-${Date.now()}`, totals);
  let covered = 0;
  let batches = 0;
  let largestBatch = 0;
  const schedulingDelaysMs: number[] = [];
  let finished!: (ms: number) => void;
  const done = new Promise<number>((resolve) => (finished = resolve));
  ssc.addStreamingListener({
    onBatchCompleted: ({ info }) => {
      if (info.failure !== undefined) return;
      schedulingDelaysMs.push(info.schedulingDelayMs);
      if (info.numRecords === 0) return;
      batches += 1;
      largestBatch = Math.max(largestBatch, info.numRecords);
      covered += info.offsetRanges.reduce((sum, range) => sum + range.count, 0);
      if (covered >= records) finished(elapsedMs(started));
    },
  });
  await ssc.start();
  try {
    // A failed batch stops the context: surface its error instead of waiting forever.
    const ms = await Promise.race([
      done,
      ssc.awaitTermination().then(() => Promise.reject(new Error(`dstream: the job stopped after ${covered} of ${records} records`))),
    ]);
    return {
      totals,
      ms,
      schedulingDelaysMs,
      detail: `${batchIntervalMs} ms batches, ${batches} with records, largest ${largestBatch}`,
    };
  } finally {
    await ssc.stop({ graceful: false });
  }
}

/** What a worker of `dstreamWorkers` leaves behind when it stops (`workerJob.ts`). */
export interface WorkerOutcome {
  readonly totals: ReadonlyArray<readonly [string, number]>;
  readonly peakRssBytes: number;
}

/**
 * The same job run as `dstream run --workers N` runs it: `runWorkers` starts N processes of
 * `workerJob.js` in one consumer group, which split the partitions. Timed from the start of the
 * supervisor to the batch report that brings the workers' records to the topic's count; then the
 * workers are stopped (SIGTERM, graceful), each writes its word totals and peak RSS to a file, and
 * the totals are added up.
 */
async function dstreamWorkers(task: ContenderTask): Promise<CountResult> {
  const { records, batchIntervalMs = 1000, workers = 2 } = task;
  const started = process.hrtime.bigint();
  const outDir = path.join(os.tmpdir(), `dstream-bench-workers-${process.pid}-${Date.now()}`);
  const signals = new EventEmitter();
  let covered = 0;
  let batches = 0;
  let ms: number | undefined;
  const schedulingDelaysMs: number[] = [];
  const result = await runWorkers({
    jobFile: path.join(__dirname, 'workerJob.js'),
    workers,
    env: {
      ...process.env,
      DSTREAM_BENCH_TASK: JSON.stringify(task),
      DSTREAM_BENCH_GROUP: `dstream-bench-workers-${process.pid}-${Date.now()}`,
      DSTREAM_BENCH_OUT: outDir,
    },
    progressIntervalMs: 0,
    logger: silentLogger,
    signals,
    onReport: (_, report) => {
      if (report.failed) return;
      schedulingDelaysMs.push(report.schedulingDelayMs);
      if (report.numRecords === 0) return;
      batches += 1;
      covered += report.numRecords;
      if (covered >= records && ms === undefined) {
        ms = elapsedMs(started);
        signals.emit('SIGTERM', 'SIGTERM');
      }
    },
  });
  try {
    if (ms === undefined) throw new Error(`dstream-workers: the workers stopped after ${covered} of ${records} records`);
    const totals = new Map<string, number>();
    let peakRssBytes = 0;
    for (let id = 0; id < workers; id++) {
      const outcome = JSON.parse(readFileSync(path.join(outDir, `${id}.json`), 'utf8')) as WorkerOutcome;
      for (const [word, count] of outcome.totals) totals.set(word, (totals.get(word) ?? 0) + count);
      peakRssBytes = Math.max(peakRssBytes, outcome.peakRssBytes);
    }
    return {
      totals,
      ms,
      schedulingDelaysMs,
      peakRssBytes,
      detail: `${workers} workers, ${batchIntervalMs} ms batches, ${batches} with records, ${result.restarts} restarts`,
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** Spark Streaming's direct stream on `local[2]` in its own JVM (`bench/spark`), reduceByKey per batch. */
async function sparkJob({ brokers, topic, records, batchIntervalMs = 1000 }: ContenderTask): Promise<CountResult> {
  const report = await runSparkWordCount(brokers, topic, records, batchIntervalMs);
  if (report.records < records) throw new Error(`spark: read ${report.records} of ${records} records`);
  return {
    totals: new Map(report.totals),
    ms: report.ms,
    peakRssBytes: report.peakRssBytes,
    detail: `Spark 3.5 local[2], ${batchIntervalMs} ms batches, timed from ssc.start()`,
  };
}
