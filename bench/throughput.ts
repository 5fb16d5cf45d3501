/**
 * End-to-end throughput of a word count over Kafka, every contender on the same topic in the same
 * run: a 4-partition topic filled with ~100-byte sentences, then read to the end, each contender
 * in a fresh child process, by
 *
 * - **raw**: a node-rdkafka `consume(10000)` loop with tuned fetch settings (`TUNED_FETCH`), the
 *   ceiling of librdkafka's fetcher in Node;
 * - **kafkajs**: KafkaJS `eachBatch` with its defaults;
 * - **dstream**: a job as the README writes one (`Subscribe`, `KafkaOffsetStore`, 1000 ms
 *   batches, defaults), flatMap → map → reduceByKey → foreachBatch;
 * - **dstream-librdkafka**: the same job with `fetchEngine: 'librdkafka'` (librdkafka fetches the
 *   records instead of dstream's own Fetch client);
 * - **dstream-workers**: the same job in 2 processes of one consumer group, started and
 *   supervised by `runWorkers` as `dstream run --workers 2` does (`lib/workerJob.ts`);
 * - **dstream-250ms** (on request): the same job with 250 ms batches (a backlog drains at about
 *   one `maxBatchBytes` per batch interval);
 * - **spark**: Spark Streaming 3.5's direct stream on `local[2]`, reduceByKey per 1000 ms batch
 *   (`bench/spark`, built with Maven; left out where `mvn` or `java` is missing).
 *
 * Contenders alternate for `BENCH_ROUNDS` rounds (the order rotates each round). Each reports its
 * rate, peak RSS (sampled every 50 ms, and the kernel's high-water mark), the p99 of its event
 * loop's delay and, for dstream, of its batches' scheduling delay. A last run reads the topic
 * with 100 ms batches at half dstream's measured rate and reports its p99 scheduling delay.
 * Every contender's word totals must equal the producer's, or the run fails. The numbers are
 * printed, never asserted.
 *
 * Build (`npx tsc -b bench`), start the services (`scripts/services up`), then
 * `node bench/dist/throughput.js`. `BENCH_RECORDS` overrides the record count (2 000 000),
 * `BENCH_ROUNDS` the rounds (3), `BENCH_CONTENDERS` the contenders
 * (`raw,kafkajs,dstream,dstream-librdkafka,dstream-workers,spark`; `dstream-250ms` on request), and
 * `BENCH_PACED=0` skips the 100 ms run.
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTopic, deleteTopic, services } from '@dstream/test-utils';
import type { ContenderTask } from './lib/contenders';
import { produceSentences } from './lib/kafka';
import { buildSparkJob, sparkUnavailable } from './lib/spark';
import { formatRate, median, printTable } from './lib/stats';
import { differenceOf } from './lib/words';
import type { ContenderReport } from './throughputContender';

const RECORD_COUNT = Number(process.env.BENCH_RECORDS ?? 2_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/**
 * The contenders by name; `dstream-250ms` is the same job with 250 ms batches, to show the batch
 * budget's effect, and `dstream-librdkafka` with librdkafka fetching the records, to show the wire fetcher's.
 */
const CONTENDER_TASKS = {
  raw: { kind: 'raw', label: 'raw node-rdkafka consume(10000), tuned fetch' },
  kafkajs: { kind: 'kafkajs', label: 'KafkaJS 2.2.4 eachBatch' },
  dstream: { kind: 'dstream', label: 'dstream, README job, defaults' },
  'dstream-workers': { kind: 'dstream-workers', workers: 2, label: 'dstream, README job, runWorkers 2 (--workers 2)' },
  'dstream-250ms': { kind: 'dstream', batchIntervalMs: 250, label: 'dstream, README job, 250 ms batches' },
  'dstream-librdkafka': { kind: 'dstream', fetchEngine: 'librdkafka', label: "dstream, README job, fetchEngine 'librdkafka'" },
  spark: { kind: 'spark', label: 'Spark Streaming 3.5 direct stream, local[2]' },
} as const;
type ContenderName = keyof typeof CONTENDER_TASKS;
const SPARK_UNAVAILABLE = sparkUnavailable();
const CONTENDERS = (
  process.env.BENCH_CONTENDERS ??
  `raw,kafkajs,dstream,dstream-librdkafka,dstream-workers${SPARK_UNAVAILABLE === undefined ? ',spark' : ''}`
).split(',') as ContenderName[];
if (SPARK_UNAVAILABLE !== undefined) {
  if (CONTENDERS.includes('spark')) throw new Error(`BENCH_CONTENDERS: spark can't run here: ${SPARK_UNAVAILABLE}`);
  console.log(`throughput: the Spark contender is left out: ${SPARK_UNAVAILABLE}`);
}
for (const name of CONTENDERS) {
  if (!(name in CONTENDER_TASKS)) throw new Error(`BENCH_CONTENDERS: unknown contender ${name}; choose from ${Object.keys(CONTENDER_TASKS).join(', ')}`);
}
const IS_PACED = process.env.BENCH_PACED !== '0';
const PARTITIONS = 4;
const RECORD_BYTES = 100;
/** A contender still short of the count after this long has stalled: fail rather than hang. */
const CONTENDER_TIMEOUT_MS = 900_000;

/** Runs one contender in a child process and returns its report. */
function runChild(task: ContenderTask): Promise<ContenderReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'throughputContender.js'), JSON.stringify(task)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), CONTENDER_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const lines = output.trim().split('\n');
      if (code !== 0) {
        reject(new Error(`${task.kind} exited with ${signal ?? code}${signal === 'SIGKILL' ? ` after ${CONTENDER_TIMEOUT_MS} ms` : ''}`));
        return;
      }
      resolve(JSON.parse(lines[lines.length - 1]) as ContenderReport);
    });
  });
}

const MB = 1e6;

async function main(): Promise<void> {
  const topic = `dstream-bench-throughput-${Date.now()}`;
  const brokers = services.kafkaBrokers;
  console.log(
    `throughput: ${RECORD_COUNT} records of ~${RECORD_BYTES} bytes in ${PARTITIONS} partitions of ${topic} at ${brokers}; ` +
      `word count (split on spaces, count per word); ${ROUNDS} rounds of ${CONTENDERS.join(', ')}`,
  );
  console.log(
    `machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `Node.js ${process.version}, ${new Date().toISOString()}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  if (CONTENDERS.includes('spark')) buildSparkJob();
  await createTopic(topic, PARTITIONS, { brokers });
  try {
    const produced = await produceSentences(brokers, topic, RECORD_COUNT, RECORD_BYTES);
    console.log(
      `produce: ${(produced.ms / 1000).toFixed(2)} s, ${formatRate((RECORD_COUNT / produced.ms) * 1000)}, ` +
        `${((produced.bytes / produced.ms) * 1000 / 2 ** 20).toFixed(1)} MiB/s of values, ${produced.totals.size} distinct words`,
    );
    let isCorrect = true;
    const reports = new Map<ContenderName, ContenderReport[]>(CONTENDERS.map((name) => [name, []]));
    const base = { brokers, topic, partitions: PARTITIONS, records: RECORD_COUNT };
    /** Checks a report's totals and prints its line. */
    const check = (label: string, report: ContenderReport): void => {
      const difference = differenceOf(new Map(report.totals), produced.totals);
      if (difference !== null) isCorrect = false;
      console.log(
        `${difference === null ? '✓' : '✗'} ${label.padEnd(46)} ${(report.ms / 1000).toFixed(2).padStart(6)} s  ` +
          `${formatRate((RECORD_COUNT / report.ms) * 1000).padStart(10)}  peak RSS ${(report.peakRssBytes / MB).toFixed(0)} MB ` +
          `(HWM ${(report.rssHighWaterBytes / MB).toFixed(0)} MB)  ` +
          (report.eventLoopDelayP99Ms === null ? '' : `loop delay p99 ${report.eventLoopDelayP99Ms.toFixed(1)} ms`) +
          (report.schedulingDelayP99Ms === undefined ? '' : `  scheduling delay p99 ${report.schedulingDelayP99Ms.toFixed(0)} ms`) +
          `  (${report.detail})` +
          (difference === null ? '' : `  MISMATCH: ${difference}`),
      );
    };
    for (let round = 0; round < ROUNDS; round++) {
      console.log(`round ${round + 1}, load average ${os.loadavg()[0].toFixed(2)}`);
      // Rotate the order, so no contender always runs first (on a cold page cache) or last.
      const order = CONTENDERS.map((_, index) => CONTENDERS[(index + round) % CONTENDERS.length]);
      for (const name of order) {
        const { label, ...task } = CONTENDER_TASKS[name];
        const report = await runChild({ ...base, ...task });
        reports.get(name)!.push(report);
        check(label, report);
      }
    }

    const rateOf = (name: ContenderName) => {
      const runs = reports.get(name);
      return runs === undefined || runs.length === 0 ? undefined : median(runs.map((r) => (RECORD_COUNT / r.ms) * 1000));
    };
    const rawRate = rateOf('raw');
    const kafkajsRate = rateOf('kafkajs');
    console.log(`\nmedians of ${ROUNDS} rounds (${RECORD_COUNT} records); ✓ = every round's word totals equal the producer's`);
    printTable(
      ['contender', 'rate', 'min–max', '× raw', '× KafkaJS', 'peak RSS', 'loop p99', 'sched. p99'],
      CONTENDERS.map((name) => {
        const runs = reports.get(name)!;
        const rates = runs.map((r) => (RECORD_COUNT / r.ms) * 1000);
        const rate = median(rates);
        const sched = runs.flatMap((r) => (r.schedulingDelayP99Ms === undefined ? [] : [r.schedulingDelayP99Ms]));
        return [
          CONTENDER_TASKS[name].label,
          formatRate(rate),
          `${formatRate(Math.min(...rates))}–${formatRate(Math.max(...rates))}`,
          rawRate === undefined ? '' : `${(rate / rawRate).toFixed(2)}×`,
          kafkajsRate === undefined ? '' : `${(rate / kafkajsRate).toFixed(2)}×`,
          `${(median(runs.map((r) => Math.max(r.peakRssBytes, r.rssHighWaterBytes))) / MB).toFixed(0)} MB`,
          runs[0].eventLoopDelayP99Ms === null ? '' : `${median(runs.map((r) => r.eventLoopDelayP99Ms ?? 0)).toFixed(1)} ms`,
          sched.length === 0 ? '' : `${median(sched).toFixed(0)} ms`,
        ];
      }),
    );

    const dstreamRate = rateOf('dstream');
    if (IS_PACED && dstreamRate !== undefined) {
      // Half the measured rate, spread over the partitions: a job with headroom, as one should run.
      const maxRatePerPartition = Math.floor(dstreamRate / 2 / PARTITIONS);
      console.log(
        `\npaced: dstream with 100 ms batches, maxRatePerPartition ${maxRatePerPartition} (half of ${formatRate(dstreamRate)}), ` +
          `load average ${os.loadavg()[0].toFixed(2)}`,
      );
      const report = await runChild({ ...base, kind: 'dstream', batchIntervalMs: 100, maxRatePerPartition });
      check('dstream, 100 ms batches at half rate', report);
    }
    console.log(`load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (!isCorrect) process.exitCode = 1;
  } finally {
    await deleteTopic(topic, { brokers }).catch((error: unknown) => console.error(`cleanup: ${(error as Error).message}`));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
