/**
 * One worker of the throughput benchmark's `dstream-workers` contender, started by `runWorkers`
 * (as `dstream run --workers N` starts a job file): the word-count job of `contenders.ts`, in the
 * group every worker shares. On SIGTERM it stops gracefully, then writes its word totals and peak
 * RSS to `$DSTREAM_BENCH_OUT/<worker id>.json`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { StreamingContext, WORKER_ID_VARIABLE, silentLogger } from '@dstream/core';
import { ContenderTask, WorkerOutcome, defineWordCount } from './contenders';

function rssHighWater(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const task = JSON.parse(process.env.DSTREAM_BENCH_TASK!) as ContenderTask;
  let peakRssBytes = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss())), 50);
  const ssc = new StreamingContext({ appName: 'bench-throughput-worker', batchIntervalMs: task.batchIntervalMs ?? 1000, logger: silentLogger });
  const totals = new Map<string, number>();
  defineWordCount(ssc, task, process.env.DSTREAM_BENCH_GROUP!, totals);
  await ssc.start();
  await ssc.awaitTermination();
  clearInterval(sampler);
  const outcome: WorkerOutcome = { totals: [...totals], peakRssBytes: Math.max(peakRssBytes, rssHighWater()) };
  const outDir = process.env.DSTREAM_BENCH_OUT!;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, `${process.env[WORKER_ID_VARIABLE]}.json`), JSON.stringify(outcome));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
