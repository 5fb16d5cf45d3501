/**
 * The dstream demo: a producer writes sentences to a 3-partition topic at a steady rate while a
 * word-count job counts them in 1 s batches. Midway the job stops gracefully; a fresh context (and
 * a fresh offset store on the same checkpoint directory) resumes, and the output shows its first
 * batch starts exactly at the offsets the first one committed. At the end every record must have
 * been counted once.
 *
 *   node dist/main.js [--records 6000] [--rate 1000] [--forever]
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { CheckpointOffsetStore } from '@dstream/offsets-checkpoint';
import type { OffsetRange, StoredOffsets, TopicPartition } from '@dstream/core';
import { brokersFromEnv, createTopic, deleteTopic, produce } from '@dstream/example-support';
import { expectedCounts, sentenceRecords } from './sentences';
import { BatchReport, wordCountJob } from './wordCountJob';

interface Args {
  records: number;
  rate: number;
  forever: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { records: 6000, rate: 1000, forever: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--forever') args.forever = true;
    else if (flag === '--records' || flag === '--rate') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value <= 0) {
        throw new Error(`${flag} must be a positive integer; got ${argv[i]}. Example: ${flag} 5000`);
      }
      args[flag === '--records' ? 'records' : 'rate'] = value;
    } else {
      throw new Error(`unknown argument ${flag}. Usage: main.js [--records N] [--rate N] [--forever]`);
    }
  }
  return args;
}

const clockTime = (ms: number) => new Date(ms).toISOString().slice(11, 23);
const ranges = (list: readonly OffsetRange[]) => list.map(String).join('  ');

function printBatch(phase: string, report: BatchReport): void {
  const top = report.top.map(([word, count]) => `${word}=${count}`).join(' ');
  console.log(`[${phase}] batch ${clockTime(report.time)}  ${report.records} records  ${ranges(report.offsetRanges)}`);
  if (top) console.log(`${' '.repeat(phase.length + 3)}top words: ${top}`);
}

function describeStored(stored: StoredOffsets): string {
  return [...stored.entries()].sort().map(([key, offset]) => `${key}=${offset}`).join(' ');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const brokers = brokersFromEnv();
  const runDir = path.resolve(process.env.DSTREAM_RUN_DIR ?? path.resolve(__dirname, '../../../.dstream'));
  // --forever resumes across runs, so its names belong to its checkpoint directory: another
  // checkout (another run directory) gets its own topic and group instead of joining this one's
  // group with a checkpoint of its own. A plain run is a fresh topic and group each time.
  const run = args.forever ? `forever-${createHash('sha256').update(runDir).digest('hex').slice(0, 8)}` : Date.now().toString(36);
  const topic = `dstream-wordcount-${run}`;
  const group = `wordcount-${run}`;
  // The store keeps each group's checkpoints in a subdirectory named after the group.
  const directory = path.join(runDir, 'demo');
  const checkpoints = path.join(directory, group);
  const partitions = [0, 1, 2].map((partition) => ({ topic, partition }));

  await createTopic(brokers, topic, 3);
  console.log(`topic ${topic} (3 partitions), group ${group}, offsets checkpointed in ${checkpoints}`);

  if (args.forever) {
    // Runs until SIGINT/SIGTERM: the context stops gracefully and commits its last batch, so the
    // next start resumes exactly there.
    const producing = produce(brokers, topic, sentenceRecords(Number.MAX_SAFE_INTEGER), { ratePerSecond: args.rate });
    const job = wordCountJob({ brokers, topic, group, offsetStore: new CheckpointOffsetStore({ directory }) });
    let last: readonly OffsetRange[] = [];
    job.onBatch((report) => {
      printBatch('job', report);
      if (report.offsetRanges.length > 0) last = report.offsetRanges;
    });
    await job.ssc.start();
    await job.ssc.awaitTermination();
    void producing;
    // Printed at once: on a signal the context exits right after these continuations run.
    const resumeAt = last.map((range) => `${range.key}=${range.untilOffset}`).join(' ');
    console.log(`stopped gracefully; the next --forever run resumes at ${resumeAt || 'the checkpointed offsets'}`);
    process.exit(0);
  }

  try {
    await countAcrossRestart(args, { brokers, topic, group, directory, partitions });
  } finally {
    // A plain run's topic and checkpoints are its own: nothing of it is left behind.
    await deleteTopic(brokers, topic);
    await rm(checkpoints, { recursive: true, force: true });
  }
}

/** The plain demo: count, stop gracefully midway, resume from the checkpoint, check every count. */
async function countAcrossRestart(
  args: Args,
  names: { brokers: string; topic: string; group: string; directory: string; partitions: TopicPartition[] },
): Promise<void> {
  const { brokers, topic, group, directory, partitions } = names;
  const producing = produce(brokers, topic, sentenceRecords(args.records), { ratePerSecond: args.rate });
  console.log(`producing ${args.records} sentences at ${args.rate}/s`);

  // Phase 1: run until about half the records are counted, then stop gracefully.
  let counted = 0;
  const first = wordCountJob({ brokers, topic, group, offsetStore: new CheckpointOffsetStore({ directory }) });
  const half = new Promise<void>((resolve) =>
    first.onBatch((report) => {
      printBatch('first context', report);
      counted += report.records;
      if (counted >= args.records / 2) resolve();
    }),
  );
  await first.ssc.start();
  await Promise.race([half, first.ssc.awaitTermination()]);
  await first.ssc.stop({ graceful: true });
  await first.ssc.awaitTermination();

  const checkpoint = new CheckpointOffsetStore({ directory });
  await checkpoint.connect();
  const stored = await checkpoint.load(group, partitions);
  await checkpoint.close();
  console.log(`\nstopped gracefully after ${counted} records; checkpointed offsets: ${describeStored(stored)}\n`);

  // Phase 2: a fresh context and store resume from the checkpoint.
  const second = wordCountJob({ brokers, topic, group, offsetStore: new CheckpointOffsetStore({ directory }) });
  let isFirstBatch = true;
  let resumedExactly = true;
  const done = new Promise<void>((resolve) =>
    second.onBatch((report) => {
      if (isFirstBatch && report.offsetRanges.length > 0) {
        isFirstBatch = false;
        for (const range of report.offsetRanges) {
          if (stored.get(range.key) !== range.fromOffset) resumedExactly = false;
        }
        console.log(
          `[second context] first batch starts at ${report.offsetRanges.map((r) => `${r.key}=${r.fromOffset}`).join(' ')}` +
            (resumedExactly ? ': exactly where the first context stopped' : ': NOT where the first context stopped'),
        );
      }
      printBatch('second context', report);
      counted += report.records;
      if (counted >= args.records) resolve();
    }),
  );
  await second.ssc.start();
  await Promise.race([done, second.ssc.awaitTermination()]);
  await second.ssc.stop({ graceful: true });
  await second.ssc.awaitTermination();
  await producing;

  const expected = expectedCounts(args.records);
  const totals = new Map(first.totals);
  for (const [word, count] of second.totals) totals.set(word, (totals.get(word) ?? 0) + count);
  const mismatches = [...expected].filter(([word, count]) => totals.get(word) !== count);
  const words = [...expected.values()].reduce((a, b) => a + b, 0);
  if (!resumedExactly || mismatches.length > 0 || counted !== args.records) {
    console.error(`\nFAILED: counted ${counted} of ${args.records} records; words off: ${mismatches.map(([w]) => w).join(', ')}`);
    process.exitCode = 1;
    return;
  }
  console.log(`\nevery one of ${args.records} records counted exactly once (${words} words) across a graceful stop and restart`);
}

main().catch((error) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
