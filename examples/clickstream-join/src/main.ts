/**
 * Click-through per ad per batch: a producer writes ad impressions (and, for some, a click) to two
 * 3-partition topics while the job joins them by ad id in 1 s batches, prints a row per ad and
 * batch, and writes the rows to `<out>/ctr-<time>.jsonl`. Once every impression and click has
 * been counted the job stops gracefully and checks its totals against what was produced.
 *
 *   node dist/main.js [--impressions 5000] [--rate 1000] [--out DIR]
 *
 * `--out` defaults to $DSTREAM_CLICKSTREAM_OUT, else .dstream/clickstream-join/<group> at the
 * repository root; the brokers are $DSTREAM_KAFKA_BROKERS, else 127.0.0.1:9092.
 */
import path from 'node:path';
import { ConfigError, InMemoryOffsetStore } from '@dstream/core';
import type { OffsetRange } from '@dstream/core';
import { brokersFromEnv, createTopic, produce } from '@dstream/example-support';
import { type AdTotals, adEventRecords, expectedTotals } from './adEvents';
import { clickThroughJob } from './clickThroughJob';

interface Args {
  impressions: number;
  rate: number;
  out: string | undefined;
}

const USAGE = 'Usage: main.js [--impressions N] [--rate N] [--out DIR].';

/** Longest wait, once every record is produced, for the job to count them all. */
const SETTLE_TIMEOUT_MS = 60_000;

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { impressions: 5000, rate: 1000, out: process.env.DSTREAM_CLICKSTREAM_OUT };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--out') {
      const value = argv[++i];
      if (value === undefined || value === '') throw new ConfigError('--out', value, 'needs a directory', USAGE);
      args.out = value;
    } else if (flag === '--impressions' || flag === '--rate') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value <= 0) {
        throw new ConfigError(flag, argv[i], 'must be a positive integer', `Example: ${flag} 2000.`);
      }
      args[flag === '--impressions' ? 'impressions' : 'rate'] = value;
    } else {
      throw new ConfigError('argument', flag, 'is not known', USAGE);
    }
  }
  return args;
}

const sumOf = (totals: ReadonlyMap<string, AdTotals>, field: keyof AdTotals) =>
  [...totals.values()].reduce((sum, entry) => sum + entry[field], 0);

const describeRanges = (ranges: readonly OffsetRange[]) =>
  ranges.filter((range) => range.count > 0).map(String).join('  ') || 'no new records';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const brokers = brokersFromEnv();
  const run = `${Date.now()}`;
  const impressionsTopic = `impressions-${run}`;
  const clicksTopic = `clicks-${run}`;
  const group = `clickstream-join-${run}`;
  const outDir = path.resolve(args.out ?? path.join(__dirname, '../../../.dstream/clickstream-join', group));

  await createTopic(brokers, impressionsTopic, 3);
  await createTopic(brokers, clicksTopic, 3);
  console.log(`topics ${impressionsTopic} and ${clicksTopic} (3 partitions each), group ${group}, rows written to ${outDir}`);

  // Offsets kept in process memory: this run ends by itself and never resumes, and the example
  // needs no store package. A job that must resume after a crash passes a durable store here
  // (a @dstream/offsets-* package).
  const offsetStore = new InMemoryOffsetStore();
  const job = clickThroughJob({ brokers, impressionsTopic, clicksTopic, group, offsetStore, outDir });

  const expected = expectedTotals(args.impressions);
  const expectedImpressions = sumOf(expected, 'impressions');
  const expectedClicks = sumOf(expected, 'clicks');
  let batches = 0;
  let isCounted!: () => void;
  const counted = new Promise<void>((resolve) => (isCounted = resolve));
  job.ssc.addStreamingListener({
    onBatchCompleted: ({ info }) => {
      if (info.failure !== undefined) return;
      batches += 1;
      console.log(
        `batch ${info.batchTimeMs}: ${info.numRecords} records in ${info.processingDelayMs} ms ` +
          `(scheduling delay ${info.schedulingDelayMs} ms)  ${describeRanges(info.offsetRanges)}`,
      );
      const { totals } = job;
      if (sumOf(totals, 'impressions') >= expectedImpressions && sumOf(totals, 'clicks') >= expectedClicks) isCounted();
    },
  });

  await job.ssc.start();
  console.log(`producing ${args.impressions} impressions at ${args.rate}/s`);
  // --rate counts impressions; the producer paces impressions and clicks together.
  const ratePerSecond = (args.rate * (expectedImpressions + expectedClicks)) / expectedImpressions;
  const sent = await produce(brokers, impressionsTopic, adEventRecords(args.impressions, impressionsTopic, clicksTopic), { ratePerSecond });
  console.log(`produced ${expectedImpressions} impressions and ${expectedClicks} clicks (${sent} records)`);

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), SETTLE_TIMEOUT_MS)));
  const outcome = await Promise.race([counted.then(() => 'counted' as const), job.ssc.awaitTermination(), timedOut]);
  clearTimeout(timer);
  await job.ssc.stop({ graceful: true });
  await job.ssc.awaitTermination();

  console.log('\ntotals per ad');
  for (const adId of [...job.totals.keys()].sort()) {
    const { impressions, clicks } = job.totals.get(adId)!;
    const rate = `${((clicks / impressions) * 100).toFixed(2)}%`;
    console.log(`total ${adId} impressions=${impressions} clicks=${clicks} ctr=${rate}`);
  }
  const mismatches = [...expected].filter(([adId, want]) => {
    const got = job.totals.get(adId);
    return got?.impressions !== want.impressions || got.clicks !== want.clicks;
  });
  const impressions = sumOf(job.totals, 'impressions');
  const clicks = sumOf(job.totals, 'clicks');
  if (outcome === 'timeout' || mismatches.length > 0 || impressions !== expectedImpressions || clicks !== expectedClicks) {
    console.error(
      `\nFAILED: counted ${impressions} of ${expectedImpressions} impressions and ${clicks} of ${expectedClicks} clicks` +
        (outcome === 'timeout' ? ` (gave up ${SETTLE_TIMEOUT_MS} ms after producing)` : '') +
        (mismatches.length > 0 ? `; ads off: ${mismatches.map(([adId]) => adId).join(', ')}` : ''),
    );
    process.exit(1);
  }
  console.log(
    `\nevery one of ${impressions} impressions and ${clicks} clicks counted once in ${batches} batches ` +
      `(${job.joinedClicks} clicks joined with an impression of the same batch); rows in ${outDir}`,
  );
}

main().catch((error) => {
  // A bad argument is the caller's to fix: its message says how, and a stack would bury it.
  if (error instanceof ConfigError) console.error(`${error.name}: ${error.message}`);
  else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
