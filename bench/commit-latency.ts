/**
 * Offset commit latency: p50/p99/max of `OffsetStore.commit` for a 4-partition batch, N
 * sequential compare-and-set commits (each expecting the previous one's until offsets), for every
 * offset store package in packages/offsets-* and for `InMemoryOffsetStore`, the baseline measured
 * in the same run. Stores with transactions are also measured on the transaction path: the same
 * commit carrying one small output write.
 *
 * Build (`npx tsc -b bench`), start the services (`scripts/services up`), then
 * `node --expose-gc bench/dist/commit-latency.js`. `COMMITS` in the environment overrides N.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InMemoryOffsetStore, OffsetRange, topicPartitionKey } from '@dstream/core';
import type { InMemoryTransaction, OffsetCommit, OffsetStore, TopicPartition } from '@dstream/core';
import { CheckpointOffsetStore } from '@dstream/offsets-checkpoint';
import { HBaseOffsetStore } from '@dstream/offsets-hbase';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { ZooKeeperOffsetStore } from '@dstream/offsets-zookeeper';
import type { ChainableCommander } from 'ioredis';
import type { PoolClient } from 'pg';
import { createTopic, services } from '@dstream/test-utils';
import { elapsedMs, percentile, printTable } from './lib/stats';

const COMMITS = Number(process.env.COMMITS ?? 2000);
/** Commits before measuring: connections, prepared plans and the JIT settle first. */
const WARM_UP_COMMITS = 100;
/** Records per partition each batch advances by: the size only shows in the stored numbers. */
const RECORDS_PER_PARTITION = 100;
/**
 * One fixed group and topic: each run loads where the previous one left the offsets and goes on
 * from there, so repeated runs neither fail compare-and-set nor leave new keys in the services.
 */
const GROUP = 'dstream-bench-commit-latency';
const TOPIC = 'dstream-bench-commits';
const PARTITIONS: readonly TopicPartition[] = [0, 1, 2, 3].map((partition) => ({ topic: TOPIC, partition }));

/** One store under test, with the output write its transaction path carries (absent: no transactions). */
interface Subject<Tx> {
  readonly label: string;
  readonly store: OffsetStore<Tx>;
  /** Runs once after connect, before any timed commit (e.g. creates the output table). */
  readonly prepare?: () => Promise<unknown>;
  readonly write?: (tx: Tx, batch: number) => Promise<unknown>;
}

interface Measurement {
  readonly label: string;
  readonly path: 'commit' | 'transaction';
  readonly latenciesMs: readonly number[];
}

/** Packages the bench knows how to measure, by directory name under packages/. */
const MEASURED_PACKAGES = new Set(['offsets-checkpoint', 'offsets-hbase', 'offsets-kafka', 'offsets-postgres', 'offsets-redis', 'offsets-zookeeper']);

function subjects(checkpointDirectory: string): Subject<unknown>[] {
  const postgres = new PostgresOffsetStore({ connectionString: services.pgUrl });
  const memory: Subject<InMemoryTransaction> = {
    label: 'InMemoryOffsetStore (baseline)',
    store: new InMemoryOffsetStore(),
    write: async (tx, batch) => tx.set('dstream-bench:last-batch', batch),
  };
  const redis: Subject<ChainableCommander> = {
    label: 'RedisOffsetStore',
    store: new RedisOffsetStore({ url: services.redisUrl }),
    write: async (tx, batch) => tx.set('dstream-bench:last-batch', String(batch)),
  };
  const pg: Subject<PoolClient> = {
    label: 'PostgresOffsetStore',
    store: postgres,
    // Through the store's own transaction, so the bench needs no second connection pool.
    prepare: () =>
      postgres.transaction(GROUP, [], (tx) =>
        tx.query('CREATE TABLE IF NOT EXISTS dstream_bench_last_batch (id int PRIMARY KEY, batch int NOT NULL)'),
      ),
    write: (tx, batch) =>
      tx.query(
        'INSERT INTO dstream_bench_last_batch (id, batch) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET batch = EXCLUDED.batch',
        [batch],
      ),
  };
  const zookeeper: Subject<unknown> = {
    label: 'ZooKeeperOffsetStore',
    store: new ZooKeeperOffsetStore({ connectionString: services.zkConnect }),
  };
  const hbase: Subject<unknown> = {
    label: 'HBaseOffsetStore (REST gateway)',
    store: new HBaseOffsetStore({ url: services.hbaseRest }),
  };
  const checkpoint: Subject<unknown> = {
    label: 'CheckpointOffsetStore',
    store: new CheckpointOffsetStore({ directory: checkpointDirectory }),
  };
  const kafka: Subject<unknown> = {
    label: 'KafkaOffsetStore (standalone)',
    // Standalone: its own consumer commits to the group, as a stream's consumer would. Kafka
    // commits only offsets of partitions that exist, so the topic is created first.
    store: new KafkaOffsetStore({ brokers: services.kafkaBrokers }),
    prepare: () => createTopic(TOPIC, PARTITIONS.length, { ifMissing: true }),
  };
  return [memory, redis, pg, zookeeper, hbase, checkpoint, kafka] as Subject<unknown>[];
}

/** Names any packages/offsets-* directory this bench does not measure yet, so a new store is not silently left out. */
function reportUnmeasuredPackages(): void {
  // Compiled to bench/dist: the repository root is two levels up.
  const packagesDir = resolve(__dirname, '..', '..', 'packages');
  for (const name of readdirSync(packagesDir).filter((entry) => entry.startsWith('offsets-')).sort()) {
    if (MEASURED_PACKAGES.has(name)) continue;
    const hasEntry = existsSync(join(packagesDir, name, 'src', 'index.ts'));
    console.log(
      `skipped @dstream/${name}: ${hasEntry ? 'not measured by this benchmark yet' : 'the package has no source yet (no src/index.ts)'}`,
    );
  }
}

/** The batch after `stored`: each partition's range starts where the store stands (null: nothing stored). */
function nextCommits(stored: ReadonlyMap<string, number | null>): OffsetCommit[] {
  return PARTITIONS.map(({ topic, partition }) => {
    const expectedOffset = stored.get(topicPartitionKey(topic, partition)) ?? null;
    const from = expectedOffset ?? 0;
    return { range: OffsetRange.create(topic, partition, from, from + RECORDS_PER_PARTITION), expectedOffset };
  });
}

/**
 * Runs `warmUp + count` sequential commits through `commit`, each compare-and-set from the
 * previous until, and returns the latencies of the last `count`.
 */
async function measure(
  store: OffsetStore<unknown>,
  commit: (commits: readonly OffsetCommit[], batch: number) => Promise<unknown>,
): Promise<number[]> {
  const loaded = await store.load(GROUP, PARTITIONS);
  const stored = new Map<string, number | null>(PARTITIONS.map((p) => [topicPartitionKey(p.topic, p.partition), null]));
  for (const [key, offset] of loaded) stored.set(key, offset);
  const latencies: number[] = [];
  for (let batch = 0; batch < WARM_UP_COMMITS + COMMITS; batch++) {
    const commits = nextCommits(stored);
    const started = process.hrtime.bigint();
    await commit(commits, batch);
    const ms = elapsedMs(started);
    if (batch >= WARM_UP_COMMITS) latencies.push(ms);
    for (const { range } of commits) stored.set(range.key, range.untilOffset);
  }
  // The store must hold exactly where the last commit left it, or the timings measured something else.
  const final = await store.load(GROUP, PARTITIONS);
  for (const [key, offset] of stored) {
    if (final.get(key) !== offset) throw new Error(`${store.name}: ${key} holds ${final.get(key)}, expected ${offset}`);
  }
  return latencies;
}

async function measureSubject(subject: Subject<unknown>): Promise<Measurement[]> {
  const { store, label, write } = subject;
  await store.connect();
  try {
    await subject.prepare?.();
    (globalThis as { gc?: () => void }).gc?.();
    const results: Measurement[] = [
      { label, path: 'commit', latenciesMs: await measure(store, (commits) => store.commit(GROUP, commits)) },
    ];
    if (store.supportsTransactions && store.transaction !== undefined && write !== undefined) {
      const transaction = store.transaction.bind(store);
      (globalThis as { gc?: () => void }).gc?.();
      const latenciesMs = await measure(store, (commits, batch) => transaction(GROUP, commits, (tx) => write(tx, batch)));
      results.push({ label, path: 'transaction', latenciesMs });
    } else {
      console.log(`${label}: no transaction path (the store cannot carry output writes with its offsets)`);
    }
    return results;
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `commit-latency: ${COMMITS} sequential compare-and-set commits of a ${PARTITIONS.length}-partition batch per store ` +
      `and path, after ${WARM_UP_COMMITS} warm-up commits`,
  );
  reportUnmeasuredPackages();
  const measurements: Measurement[] = [];
  const failures: string[] = [];
  // A fresh directory per run: the checkpoint store's files start empty and are removed after.
  const checkpointDirectory = mkdtempSync(join(tmpdir(), 'dstream-bench-checkpoints-'));
  for (const subject of subjects(checkpointDirectory)) {
    // A store that cannot be reached fails the run, but after the others were measured and shown.
    try {
      measurements.push(...(await measureSubject(subject)));
    } catch (error) {
      failures.push(`${subject.label}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  rmSync(checkpointDirectory, { recursive: true, force: true });
  const baseline = new Map(measurements.filter((m) => m.label.endsWith('(baseline)')).map((m) => [m.path, m]));
  const rows = measurements.map(({ label, path, latenciesMs }) => {
    const p50 = percentile(latenciesMs, 50);
    const base = percentile(baseline.get(path)?.latenciesMs ?? latenciesMs, 50);
    const totalMs = latenciesMs.reduce((sum, ms) => sum + ms, 0);
    return [
      label,
      path,
      p50.toFixed(3),
      percentile(latenciesMs, 99).toFixed(3),
      Math.max(...latenciesMs).toFixed(3),
      ((latenciesMs.length / totalMs) * 1000).toFixed(0),
      `${(p50 / base).toFixed(0)}×`,
    ];
  });
  printTable(['store', 'path', 'p50 ms', 'p99 ms', 'max ms', 'commits/s', 'p50 vs memory'], rows);
  for (const failure of failures) console.error(`FAILED ${failure}`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
