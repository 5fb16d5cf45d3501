import { existsSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import type { LoadedState, OffsetStore } from '@dstream/core';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { produce, readTopic } from '../records';
import { requireService, services } from '../services';
import { createTopic } from '../topics';
import { uniqueName } from '../uniqueName';
import { sleep } from '../waitFor';
import { JOBS_DIR, JobProcess, ROOT } from './harness';

/** Where the job keeps offsets, state and results: Redis, PostgreSQL, or Kafka (`KafkaTransactionalSink` with a state topic). */
export type StateCrashStore = 'redis' | 'postgres' | 'kafka';

/** One run of the stateful crash test. */
export interface StateCrashTestOptions {
  readonly store: StateCrashStore;
  /** Records produced before the job starts (spread evenly over 4 partitions). Default 4,000. */
  readonly records?: number;
  /** SIGKILLs, each at a random moment of a separate run (every other one inside a batch). Default 3. */
  readonly kills?: number;
  /** Graceful restarts (SIGTERM, then a new run), after the kills. Default 1. */
  readonly gracefulRestarts?: number;
  readonly batchIntervalMs?: number;
  readonly windowMs?: number;
  readonly slideMs?: number;
  /** Longest the final run may take to read everything. Default 120 s. */
  readonly finishTimeoutMs?: number;
  /**
   * 2: two processes in one consumer group (ConsumerStrategies.Subscribe, users co-partitioned),
   * killed in turn, so partitions and their state move between them. Default 1 (Assign).
   */
  readonly workers?: 1 | 2;
}

/** What the final state and results showed, compared with the offline computation. */
export interface StateCrashTestResult {
  readonly records: number;
  readonly kills: number;
  readonly gracefulRestarts: number;
  /** Users whose written running total differs from the offline total. */
  readonly wrongTotals: readonly string[];
  /** Users whose stored `totals` state differs from the offline total. */
  readonly wrongStoredTotals: readonly string[];
  /** Offsets of each partition not covered exactly once by the committed batches' ranges. */
  readonly rangeProblems: readonly string[];
  /** Users whose record counts over all committed batches differ from the offline counts. */
  readonly wrongBatchCounts: readonly string[];
  /** Window results checked, and those that differ from the counts of the batches in their window. */
  readonly windowsChecked: number;
  readonly wrongWindows: readonly string[];
  /** Windows holding batches of more than one run of the job: the ones a restart could have broken. */
  readonly windowsAcrossRestarts: number;
  /** With two workers: window results holding batches of a partition read by two processes (the state moved). */
  readonly windowsAcrossMoves: number;
  /** Restore times the runs reported, in milliseconds. */
  readonly restoreMs: readonly number[];
  readonly elapsedMs: number;
}

const PARTITIONS = 4;
const USERS = 13;
const JOB = path.join(JOBS_DIR, 'statefulJob.js');

interface BatchRow {
  readonly pid: number;
  readonly ranges: readonly (readonly [number, number, number])[];
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * Produces `<partition>:<n>` records into a new 4-partition topic and runs `statefulJob.js`
 * (mapWithState running totals, reduceByKeyAndWindow counts, exactly-once on Redis or
 * PostgreSQL), SIGKILLing it `kills` times and stopping it gracefully `gracefulRestarts` times,
 * restarting it after each, until a last run reads to the end. Then it checks everything against
 * the offline computation: the committed batches' ranges cover each partition exactly once; their
 * per-user counts add up to the offline counts; every user's written total and stored state equal
 * the offline total; and every window result equals the counts of the committed batches that lie
 * in its window, whichever runs computed them.
 */
export async function runStateCrashTest(options: StateCrashTestOptions): Promise<StateCrashTestResult> {
  const started = Date.now();
  const records = options.records ?? 4000;
  const kills = options.kills ?? 3;
  const gracefulRestarts = options.gracefulRestarts ?? 1;
  const batchIntervalMs = options.batchIntervalMs ?? 250;
  const workers = options.workers ?? 1;
  const windowMs = options.windowMs ?? 3000;
  const slideMs = options.slideMs ?? 500;
  for (const dist of ['core', 'test-utils', `offsets-${options.store}`]) {
    if (!existsSync(path.join(ROOT, 'packages', dist, 'dist/index.js'))) {
      throw new Error(`packages/${dist}/dist is missing: the crash job runs compiled code; run \`npm run build\` first`);
    }
  }
  await requireService('Kafka', services.kafkaBrokers);
  const run = uniqueName('state-crash');
  const results = await openResults(options.store, run);
  const topic = `dstream-${run}`;
  const perPartition = Math.ceil(records / PARTITIONS);
  const total = perPartition * PARTITIONS;
  // Spread the records over about 4 batches per run, so every kill and stop lands in work; with two
  // workers over about 12 s per kill: a killed member's partitions move after its session times out.
  const runs = kills + gracefulRestarts + 1;
  const ratePerPartition =
    workers === 1 ? Math.ceil((perPartition / (runs * 4)) * (1000 / batchIntervalMs)) : Math.ceil(perPartition / (runs * 12));
  const jobs: JobProcess[] = [];
  let job: JobProcess | undefined;
  const restoreMs: number[] = [];
  try {
    await createTopic(topic, PARTITIONS);
    await produce(topic, [0, 1, 2, 3], perPartition);
    const env = {
      ...process.env,
      CRASH_STORE: options.store,
      CRASH_TOPIC: topic,
      CRASH_GROUP: run,
      CRASH_RUN: run,
      CRASH_RECORDS: String(total),
      CRASH_USERS: String(USERS),
      CRASH_BATCH_INTERVAL_MS: String(batchIntervalMs),
      CRASH_WINDOW_MS: String(windowMs),
      CRASH_SLIDE_MS: String(slideMs),
      CRASH_RATE_PER_PARTITION: String(ratePerPartition),
      CRASH_STRATEGY: workers === 1 ? 'assign' : 'subscribe',
      DSTREAM_KAFKA_BROKERS: services.kafkaBrokers,
      DSTREAM_REDIS_URL: services.redisUrl,
      DSTREAM_PG_URL: services.pgUrl,
    };
    const startJob = async (): Promise<JobProcess> => {
      const process = new JobProcess(env, { script: JOB });
      jobs.push(process);
      const restored = await process.waitForStarted(60_000);
      if (restored !== undefined) restoreMs.push(restored);
      return process;
    };
    if (workers === 2) {
      // Two members; each kill takes one down (in turn, every other one inside a batch) and starts it again.
      const members = [await startJob(), await startJob()];
      for (let kill = 0; kill < kills; kill += 1) {
        const slot = kill % 2;
        const inFlight = kill % 4 < 2;
        await members[slot].waitFor(inFlight ? 'batchStarted' : 'batch', 60_000);
        await sleep(inFlight ? Math.random() * 40 : Math.random() * batchIntervalMs * 2);
        await members[slot].kill();
        members[slot] = await startJob();
        await members[1 - slot].waitFor('batch', 60_000);
      }
      await Promise.all(members.map((member) => member.waitForExit(options.finishTimeoutMs ?? 180_000)));
    }
    for (let kill = 0; kill < (workers === 1 ? kills : 0); kill += 1) {
      job = await startJob();
      const inFlight = kill % 2 === 0;
      await job.waitFor(inFlight ? 'batchStarted' : 'batch', 60_000);
      await sleep(inFlight ? Math.random() * 40 : Math.random() * batchIntervalMs * 2);
      await job.kill();
    }
    for (let restart = 0; restart < (workers === 1 ? gracefulRestarts : 0); restart += 1) {
      job = await startJob();
      await job.waitFor('batch', 60_000);
      await sleep(Math.random() * batchIntervalMs * 2);
      await job.terminate(30_000);
    }
    if (workers === 1) {
      job = await startJob();
      await job.waitForExit(options.finishTimeoutMs ?? 120_000);
    }

    // The offline computation, from the records produced.
    const offlineCounts = new Map<string, number>();
    const offlineTotals = new Map<string, number>();
    for (let n = 0; n < perPartition; n += 1) {
      // With two workers users are per partition (co-partitioned keys).
      for (const user of workers === 1 ? [`u${n % USERS}`] : [0, 1, 2, 3].map((p) => `p${p}u${n % USERS}`)) {
        const records = workers === 1 ? PARTITIONS : 1;
        offlineCounts.set(user, (offlineCounts.get(user) ?? 0) + records);
        offlineTotals.set(user, (offlineTotals.get(user) ?? 0) + records * ((n % 10) + 1));
      }
    }

    const written = await results.read();
    // Ids are `<time>`, or `<time>/<pid>` with two workers.
    const batches: [number, BatchRow][] = [...(written.get('batch') ?? new Map())].map(([id, row]) => [
      Number(String(id).split('/')[0]),
      row as BatchRow,
    ]);
    const totals = written.get('total') ?? new Map();
    const windows = written.get('window') ?? new Map();

    const rangeProblems: string[] = [];
    for (let partition = 0; partition < PARTITIONS; partition += 1) {
      const ranges = batches
        .flatMap(([, batch]) => batch.ranges.filter(([p]) => p === partition))
        .filter(([, from, until]) => until > from)
        .sort((a, b) => a[1] - b[1]);
      let next = 0;
      for (const [, from, until] of ranges) {
        if (from !== next) rangeProblems.push(`partition ${partition}: ${from < next ? 'overlap' : 'gap'} at ${next}, next range [${from}, ${until})`);
        next = until;
      }
      if (next !== perPartition) rangeProblems.push(`partition ${partition}: committed ranges end at ${next}, not ${perPartition}`);
    }
    const batchCounts = new Map<string, number>();
    for (const [, batch] of batches) {
      for (const [user, count] of Object.entries(batch.counts)) batchCounts.set(user, (batchCounts.get(user) ?? 0) + count);
    }
    const differing = (expected: ReadonlyMap<string, number>, actual: ReadonlyMap<string, unknown>) =>
      [...new Set([...expected.keys(), ...actual.keys()])].filter((user) => expected.get(user) !== actual.get(user)).map(
        (user) => `${user}: ${String(actual.get(user))} instead of ${String(expected.get(user))}`,
      );

    // State is kept per source partition (see docs/guide/windows-and-state.md): one state name each.
    const storedTotals = new Map<string, unknown>();
    for (const name of ['totals', ...[0, 1, 2, 3].map((p) => `totals@${topic}:${p}`)]) {
      const stored = await results.loadState(name);
      // mapWithState stores { state, updatedMs } per key.
      for (const [user, value] of stored?.entries ?? []) storedTotals.set(String(user), (value as { state: unknown }).state);
    }

    const wrongWindows: string[] = [];
    let windowsAcrossRestarts = 0;
    let windowsAcrossMoves = 0;
    const partitionOf = (user: string): number => Number(user.slice(1, user.indexOf('u')));
    for (const [id, row] of windows) {
      const time = Number(String(id).split('/')[0]);
      const inWindow = batches.filter(([batchTime]) => batchTime > time - windowMs && batchTime <= time);
      const expected = new Map<string, number>();
      for (const [, batch] of inWindow) {
        for (const [user, count] of Object.entries(batch.counts)) expected.set(user, (expected.get(user) ?? 0) + count);
      }
      if (new Set(inWindow.map(([, batch]) => batch.pid)).size > 1) windowsAcrossRestarts += 1;
      if (workers === 1) {
        const problems = differing(expected, new Map(Object.entries(row as Record<string, number>)));
        if (problems.length > 0) wrongWindows.push(`window ${time}: ${problems.join(', ')}`);
        continue;
      }
      // A member's window holds the users of the partitions it owns: every user it wrote must be
      // right, and none of the partitions its batch read may be missing.
      const { partitions, counts } = row as { partitions: number[]; counts: Record<string, number> };
      const actual = new Map(Object.entries(counts));
      const owned = new Set([...partitions, ...[...actual.keys()].map(partitionOf)]);
      const problems = differing(new Map([...expected].filter(([user]) => owned.has(partitionOf(user)))), actual);
      if (problems.length > 0) wrongWindows.push(`window ${String(id)}: ${problems.join(', ')}`);
      for (const partition of owned) {
        const readers = new Set(inWindow.filter(([, batch]) => batch.ranges.some(([p, from, until]) => p === partition && until > from)).map(([, b]) => b.pid));
        if (readers.size > 1) {
          windowsAcrossMoves += 1;
          break;
        }
      }
    }

    const result: StateCrashTestResult = {
      records: total,
      kills,
      gracefulRestarts,
      wrongTotals: differing(offlineTotals, totals),
      wrongStoredTotals: differing(offlineTotals, storedTotals),
      rangeProblems,
      wrongBatchCounts: differing(offlineCounts, batchCounts),
      windowsChecked: windows.size,
      wrongWindows,
      windowsAcrossRestarts,
      windowsAcrossMoves,
      restoreMs,
      elapsedMs: Date.now() - started,
    };
    console.log(
      `state crash test ${options.store}: ${total} records, ${kills} SIGKILLs, ${gracefulRestarts} graceful restarts, ` +
        `${workers} worker(s), ${batches.length} batches, ${windows.size} windows (${windowsAcrossRestarts} across restarts, ` +
        `${windowsAcrossMoves} across partition moves), ` +
        `${result.wrongTotals.length} wrong totals, ${result.wrongStoredTotals.length} wrong stored totals, ` +
        `${wrongWindows.length} wrong windows, restores ${restoreMs.map((ms) => ms.toFixed(1)).join('/')} ms, ` +
        `${(result.elapsedMs / 1000).toFixed(1)} s`,
    );
    return result;
  } finally {
    await job?.kill();
    await Promise.all(jobs.map((started) => started.kill()));
    await results.close();
  }
}

/** Reads what the job wrote (results by kind and id) and its stored state, then deletes both. */
interface Results {
  read(): Promise<Map<string, Map<string, unknown>>>;
  loadState(operator: string): Promise<LoadedState | undefined>;
  close(): Promise<void>;
}

async function openResults(store: StateCrashStore, run: string): Promise<Results> {
  const withStore = async <T>(offsetStore: OffsetStore, use: (store: OffsetStore) => Promise<T>): Promise<T> => {
    await offsetStore.connect();
    try {
      return await use(offsetStore);
    } finally {
      await offsetStore.close();
    }
  };
  if (store === 'kafka') {
    // Results and state are what a read_committed consumer sees in the job's topics.
    return {
      read: async () => {
        const result = new Map<string, Map<string, unknown>>();
        for (const text of await readTopic(`dstream-${run}-results`, 1, 'read_committed')) {
          const { kind, id, value } = JSON.parse(text) as { kind: string; id: string; value: unknown };
          if (!result.has(kind)) result.set(kind, new Map());
          result.get(kind)!.set(id, value);
        }
        return result;
      },
      // The state topic's values are the stored records themselves: the last one per key wins
      // (the running totals never remove a key, so no tombstone needs its key to apply).
      loadState: async (operator) => {
        const entries = new Map<string, readonly [unknown, unknown]>();
        for (const text of await readTopic(`dstream-${run}-state`, 1, 'read_committed')) {
          const record = JSON.parse(text) as { operator?: string; key?: unknown; value?: unknown; kind?: string } | null;
          if (record === null || record.operator !== operator || record.kind !== undefined) continue;
          entries.set(JSON.stringify(record.key), [record.key, record.value]);
        }
        return { kind: 'mapWithState', stateVersion: 1, entries: [...entries.values()] };
      },
      close: async () => undefined,
    };
  }
  if (store === 'redis') {
    await requireService('Redis', services.redisUrl);
    const client = new Redis(services.redisUrl);
    const prefix = `dstream-state-crash:${run}`;
    return {
      read: async () => {
        const result = new Map<string, Map<string, unknown>>();
        for (const kind of ['batch', 'total', 'window']) {
          const fields = await client.hgetall(`${prefix}:${kind}`);
          result.set(kind, new Map(Object.entries(fields).map(([id, json]) => [id, JSON.parse(json) as unknown])));
        }
        return result;
      },
      loadState: (operator) =>
        withStore(new RedisOffsetStore({ url: services.redisUrl, keyPrefix: `${prefix}:offsets` }), (s) => s.loadState!(run, operator)),
      close: async () => {
        const keys = await client.keys(`${prefix}:*`);
        if (keys.length > 0) await client.del(...keys);
        await client.quit();
      },
    };
  }
  await requireService('PostgreSQL', services.pgUrl);
  const pool = new Pool({ connectionString: services.pgUrl });
  await pool.query(
    'CREATE TABLE IF NOT EXISTS dstream_state_crash (run text NOT NULL, kind text NOT NULL, id text NOT NULL, value jsonb NOT NULL, PRIMARY KEY (run, kind, id))',
  );
  return {
    read: async () => {
      const { rows } = await pool.query<{ kind: string; id: string; value: unknown }>('SELECT kind, id, value FROM dstream_state_crash WHERE run = $1', [run]);
      const result = new Map<string, Map<string, unknown>>();
      for (const { kind, id, value } of rows) {
        if (!result.has(kind)) result.set(kind, new Map());
        result.get(kind)!.set(id, value);
      }
      return result;
    },
    loadState: (operator) => withStore(new PostgresOffsetStore({ connectionString: services.pgUrl }), (s) => s.loadState!(run, operator)),
    close: async () => {
      await pool.query('DELETE FROM dstream_state_crash WHERE run = $1', [run]);
      await pool.query('DELETE FROM dstream_state WHERE group_id = $1', [run]).catch(() => undefined);
      await pool.query('DELETE FROM dstream_offsets WHERE group_id = $1', [run]).catch(() => undefined);
      await pool.end();
    },
  };
}
