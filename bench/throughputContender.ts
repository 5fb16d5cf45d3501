/**
 * One contender of the throughput benchmark in a process of its own: runs the task given as JSON
 * in argv[2], samples its resident memory and event-loop delay meanwhile, and prints one JSON line
 * (`ContenderReport`) as its last line of output. `throughput.ts` starts it; it is not run by hand.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ContenderTask, runContender } from './lib/contenders';
import { percentile } from './lib/stats';

/** What the child prints: the measurements, and the word totals for the driver to check. */
export interface ContenderReport {
  readonly ms: number;
  readonly totals: ReadonlyArray<readonly [string, number]>;
  /** Largest of the RSS samples (every 50 ms), bytes. */
  readonly peakRssBytes: number;
  /** The kernel's high-water mark of RSS (VmHWM), bytes; 0 where /proc is missing. */
  readonly rssHighWaterBytes: number;
  /** p99 of the event loop's delay, ms; null for a contender in another runtime (Spark's JVM). */
  readonly eventLoopDelayP99Ms: number | null;
  /** dstream only: p99 of the batches' scheduling delay, ms. */
  readonly schedulingDelayP99Ms?: number;
  readonly detail: string;
}

const RSS_SAMPLE_MS = 50;

function rssHighWater(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2]) as ContenderTask;
  let peakRssBytes = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  try {
    const result = await runContender(task);
    loopDelay.disable();
    const report: ContenderReport = {
      ms: result.ms,
      totals: [...result.totals],
      peakRssBytes: result.peakRssBytes ?? Math.max(peakRssBytes, process.memoryUsage.rss()),
      rssHighWaterBytes: result.peakRssBytes ?? rssHighWater(),
      eventLoopDelayP99Ms: result.peakRssBytes === undefined ? loopDelay.percentile(99) / 1e6 : null,
      schedulingDelayP99Ms:
        result.schedulingDelaysMs === undefined || result.schedulingDelaysMs.length === 0
          ? undefined
          : percentile(result.schedulingDelaysMs, 99),
      detail: result.detail,
    };
    console.log(JSON.stringify(report));
  } finally {
    clearInterval(sampler);
  }
}

main().then(
  // KafkaJS and librdkafka may keep handles open for a while after disconnecting: the report is out.
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
