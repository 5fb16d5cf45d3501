import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import type { DeadLetter } from '@dstream/core';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { produce, readTopic } from '../records';
import { requireService, services } from '../services';
import { createTopic } from '../topics';
import { uniqueName } from '../uniqueName';
import { sleep } from '../waitFor';

/**
 * The stores `job.js` can commit to. Redis and PostgreSQL are also where the job counts its
 * effects; ZooKeeper, HBase and checkpoint, which cannot carry them, count them in Redis.
 */
export type CrashStore = 'redis' | 'postgres' | 'zookeeper' | 'hbase' | 'checkpoint' | 'kafka';

/** One crash-restart run: what to produce, how often to kill the job, and how it delivers. */
export interface CrashTestOptions {
  readonly store: CrashStore;
  readonly delivery: 'exactly-once' | 'at-least-once';
  /** Records produced before the job starts (spread evenly over 4 partitions). Default 10,000. */
  readonly records?: number;
  /** SIGKILLs, each at a random moment of a separate run of the job. Default 5. */
  readonly kills?: number;
  readonly batchIntervalMs?: number;
  /** Records per second per partition: bounds each batch, so the work spans every kill. */
  readonly ratePerPartition?: number;
  /** Longest the final run may take to read everything. Default 120 s. */
  readonly finishTimeoutMs?: number;
  /**
   * Makes every record whose number is a multiple of this throw in the job (redis and postgres
   * only): the job dead-letters them, and the result counts the dead letters the store kept.
   */
  readonly poisonEvery?: number;
}

/** What the effects showed after the final run. */
export interface CrashTestResult {
  readonly records: number;
  readonly kills: number;
  /** Kills that landed while a batch's output or commit was running. */
  readonly killsInFlight: number;
  /** Records counted at least once. */
  readonly distinct: number;
  /** Records that should have been counted (all but the poison ones) and were not. */
  readonly missing: number;
  /** Poison records produced (`poisonEvery`); they must never be counted. */
  readonly poison: number;
  /** Poison records that were counted as effects anyway. */
  readonly poisonCounted: number;
  /** Dead letters the store kept for the run's group. */
  readonly deadLetters: number;
  /** Poison records without a dead letter. */
  readonly missingDeadLetters: number;
  /** Dead letters of records that were not poison, or with a wrong offset, value or attempt count. */
  readonly wrongDeadLetters: number;
  /** Counts beyond the first, over all records. */
  readonly duplicates: number;
  /** Most records one batch can hold: 4 partitions × rate × interval. */
  readonly maxBatchRecords: number;
  readonly elapsedMs: number;
}

const PARTITIONS = 4;
/** The repository root (from `src/crash` or `dist/crash`); the jobs run its packages' `dist`. */
export const ROOT = path.resolve(__dirname, '../../../..');
/** The plain JavaScript jobs the harness runs as child processes. */
export const JOBS_DIR = path.resolve(__dirname, '../../jobs');
const JOB = path.join(JOBS_DIR, 'job.js');

/**
 * Produces unique records into a new 4-partition topic, runs `job.js` as a child process, SIGKILLs
 * it `kills` times at random moments (half of them right inside a batch's output or commit),
 * restarts it each time, lets the last run finish, then counts each record's effects and prints
 * the counts. The caller asserts on them: exactly once for transactional delivery; for
 * at-least-once, nothing missing and duplicates only from batches in flight at a kill.
 *
 * @example
 * const result = await runCrashTest({ store: 'redis', delivery: 'exactly-once' });
 * expect(result).toMatchObject({ missing: 0, duplicates: 0 });
 */
export async function runCrashTest(options: CrashTestOptions): Promise<CrashTestResult> {
  const started = Date.now();
  const records = options.records ?? 10_000;
  const kills = options.kills ?? 5;
  const batchIntervalMs = options.batchIntervalMs ?? 250;
  // Spread the work over about 3 batches per run (kills + a few more runs), so kills land in work.
  const batchesWanted = (kills + 3) * 3;
  const ratePerPartition =
    options.ratePerPartition ?? Math.ceil(Math.ceil(records / PARTITIONS / batchesWanted) * (1000 / batchIntervalMs));
  const maxBatchRecords = Math.ceil((PARTITIONS * ratePerPartition * batchIntervalMs) / 1000);
  for (const dist of ['core', 'test-utils', `offsets-${options.store}`]) {
    if (!existsSync(path.join(ROOT, 'packages', dist, 'dist/index.js'))) {
      throw new Error(`packages/${dist}/dist is missing: the crash job runs compiled code; run \`npm run build\` first`);
    }
  }
  await requireService('Kafka', services.kafkaBrokers);
  if (options.store === 'hbase') await requireService('HBase', services.hbaseRest);
  const effects = await openEffects(options.store, options.delivery);

  const run = uniqueName('crash');
  const topic = `dstream-${run}`;
  let job: JobProcess | undefined;
  try {
    await createTopic(topic, PARTITIONS);
    const perPartition = Math.ceil(records / PARTITIONS);
    const chunk = 10_000;
    for (let startAt = 0; startAt < perPartition; startAt += chunk) {
      await produce(topic, [0, 1, 2, 3], Math.min(chunk, perPartition - startAt), startAt);
    }
    const total = perPartition * PARTITIONS;

    const env = {
      ...process.env,
      CRASH_STORE: options.store,
      CRASH_DELIVERY: options.delivery,
      CRASH_TOPIC: topic,
      CRASH_GROUP: run,
      CRASH_RUN: run,
      CRASH_RECORDS: String(total),
      CRASH_BATCH_INTERVAL_MS: String(batchIntervalMs),
      CRASH_RATE_PER_PARTITION: String(ratePerPartition),
      CRASH_POISON_EVERY: String(options.poisonEvery ?? 0),
      DSTREAM_KAFKA_BROKERS: services.kafkaBrokers,
      DSTREAM_REDIS_URL: services.redisUrl,
      DSTREAM_PG_URL: services.pgUrl,
    };
    let killsInFlight = 0;
    for (let kill = 0; kill < kills; kill += 1) {
      job = new JobProcess(env);
      // Alternate: a random moment of the run, or a few ms into a batch's output (then its commit).
      const inFlight = kill % 2 === 0;
      await job.waitFor(inFlight ? 'batchStarted' : 'batch', 60_000);
      await sleep(inFlight ? Math.random() * 60 : Math.random() * batchIntervalMs * 2);
      if (job.isInBatch) killsInFlight += 1;
      await job.kill();
    }
    job = new JobProcess(env);
    await job.waitForExit(options.finishTimeoutMs ?? 120_000);

    const counts = await effects.read(run);
    const distinct = counts.size;
    const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
    const poisonIds = new Set<string>();
    const every = options.poisonEvery ?? 0;
    if (every > 0) {
      for (let partition = 0; partition < PARTITIONS; partition += 1) {
        for (let n = 0; n < perPartition; n += every) poisonIds.add(`${partition}:${n}`);
      }
    }
    const letters = every > 0 ? await readDeadLetters(options.store, run) : [];
    const lettered = new Set(letters.map((letter) => letter.value));
    const result: CrashTestResult = {
      records: total,
      kills,
      killsInFlight,
      distinct,
      missing: total - poisonIds.size - [...counts.keys()].filter((id) => !poisonIds.has(id)).length,
      poison: poisonIds.size,
      poisonCounted: [...poisonIds].filter((id) => counts.has(id)).length,
      deadLetters: letters.length,
      missingDeadLetters: [...poisonIds].filter((id) => !lettered.has(id)).length,
      wrongDeadLetters: letters.filter(
        (letter) =>
          letter.value === null ||
          !poisonIds.has(letter.value) ||
          letter.value !== `${letter.partition}:${letter.offset}` ||
          letter.attempts !== 2 ||
          letter.error !== `poison record ${letter.value}`,
      ).length,
      duplicates,
      maxBatchRecords,
      elapsedMs: Date.now() - started,
    };
    console.log(
      `crash test ${options.store} ${options.delivery}: ${total} records, ${kills} SIGKILLs (${killsInFlight} inside a batch), ` +
        `${distinct} counted, ${result.missing} missing, ${duplicates} duplicates` +
        (every > 0
          ? `, ${result.poison} poison: ${result.deadLetters} dead letters, ${result.missingDeadLetters} missing, ` +
            `${result.wrongDeadLetters} wrong, ${result.poisonCounted} counted`
          : '') +
        `, ${(result.elapsedMs / 1000).toFixed(1)} s`,
    );
    return result;
  } finally {
    // A run that failed midway leaves no job behind.
    await job?.kill();
    await effects.close(run);
  }
}

/** The dead letters the job's store kept for its group (the run's name). */
async function readDeadLetters(store: CrashStore, group: string): Promise<DeadLetter[]> {
  if (store !== 'redis' && store !== 'postgres') throw new Error(`poisonEvery needs the redis or postgres store, not ${store}`);
  const offsetStore =
    store === 'redis' ? new RedisOffsetStore({ url: services.redisUrl }) : new PostgresOffsetStore({ connectionString: services.pgUrl });
  await offsetStore.connect();
  try {
    return await offsetStore.loadDeadLetters(group);
  } finally {
    await offsetStore.close();
  }
}

/** One JSON line a crash job printed: `{"event":"batch","records":500}` and the like. */
export interface JobEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** How a `JobProcess` runs: which script, and who follows its events. */
export interface JobProcessOptions {
  /** The job's script (default job.js). */
  readonly script?: string;
  /** Sees every event line as it arrives (the chaos runner follows rebalances with it). */
  readonly onEvent?: (event: JobEvent) => void;
}

/** A run of a crash job (job.js unless another script is given), with its stdout events tracked. */
export class JobProcess {
  private readonly child: ChildProcess;
  /** Resolves with the exit code, or null when a signal ended the process. */
  readonly exited: Promise<number | null>;
  private output = '';
  private readonly seen = new Set<string>();
  /** True between a batch's `batchStarted` and its `batch` (completed) event. */
  isInBatch = false;
  /** The restore time the job reported in its `started` event, in milliseconds. */
  restoreMs: number | undefined;

  private readonly onEvent: ((event: JobEvent) => void) | undefined;

  constructor(env: NodeJS.ProcessEnv, options: JobProcessOptions = {}) {
    this.onEvent = options.onEvent;
    this.child = spawn(process.execPath, [options.script ?? JOB], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    let pending = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.onLine(line);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => void (this.output += chunk.toString()));
  }

  /** Waits for the job's `started` event and returns the restore time it reported, if any. */
  async waitForStarted(timeoutMs: number): Promise<number | undefined> {
    await this.waitFor('started', timeoutMs);
    return this.restoreMs;
  }

  /** Resolves at the next occurrence of `event`; rejects if the job exits first. */
  async waitFor(event: string, timeoutMs: number): Promise<void> {
    this.seen.delete(event);
    const deadline = Date.now() + timeoutMs;
    while (!this.seen.has(event)) {
      if (this.child.exitCode !== null) throw new Error(`crash job exited with ${this.child.exitCode} before ${event}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`crash job showed no ${event} within ${timeoutMs} ms:\n${this.output}`);
      await sleep(5);
    }
  }

  async kill(): Promise<void> {
    if (this.isRunning) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Asks the job to stop gracefully (SIGTERM: finish the batch in flight, commit, exit 0) and waits for it. */
  async terminate(timeoutMs: number): Promise<void> {
    if (this.isRunning) this.child.kill('SIGTERM');
    await this.waitForExit(timeoutMs);
  }

  /** Sends a signal without waiting (SIGTERM asks for a graceful stop). */
  signal(signal: NodeJS.Signals): void {
    if (this.isRunning) this.child.kill(signal);
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How the process ended: `exit 0`, `exit 1`, `SIGKILL`; undefined while it runs. */
  get ending(): string | undefined {
    if (this.child.signalCode !== null) return this.child.signalCode;
    return this.child.exitCode === null ? undefined : `exit ${this.child.exitCode}`;
  }

  /** Everything the process printed so far (stdout lines and stderr). */
  get log(): string {
    return this.output;
  }

  async waitForExit(timeoutMs: number): Promise<void> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    if (code !== 0) {
      const ending = code ?? `signal ${this.child.signalCode}${this.child.signalCode === 'SIGKILL' ? ' (timeout)' : ''}`;
      throw new Error(`the final run of the crash job exited with ${ending}:\n${this.output}`);
    }
  }

  private onLine(line: string): void {
    this.output += `${line}\n`;
    let parsed: JobEvent | undefined;
    try {
      parsed = JSON.parse(line) as JobEvent;
    } catch {
      return;
    }
    const event = parsed?.event;
    if (typeof event !== 'string') return;
    if (event === 'started' && typeof parsed.restoreMs === 'number') this.restoreMs = parsed.restoreMs;
    this.seen.add(event);
    this.onEvent?.(parsed);
    if (event === 'batchStarted') this.isInBatch = true;
    if (event === 'batch') this.isInBatch = false;
  }
}

/** Reads (and finally deletes) what the job counted per record, in the store's own backend. */
export interface Effects {
  read(run: string): Promise<Map<string, number>>;
  close(run: string): Promise<void>;
}

/** Where `job.js` counts each record's effects for a store and delivery mode, opened for reading. */
export async function openEffects(store: CrashStore, delivery: CrashTestOptions['delivery']): Promise<Effects> {
  // Kafka exactly-once writes each record id to the topic `dstream-<run>-effects` in the batch's
  // transaction: the effects are what a read_committed consumer sees there.
  if (store === 'kafka' && delivery === 'exactly-once') {
    return {
      read: async (run) => {
        const counts = new Map<string, number>();
        for (const id of await readTopic(`dstream-${run}-effects`, 1, 'read_committed')) counts.set(id, (counts.get(id) ?? 0) + 1);
        return counts;
      },
      close: async () => undefined,
    };
  }
  if (store !== 'postgres') {
    await requireService('Redis', services.redisUrl);
    const client = new Redis(services.redisUrl);
    const key = (run: string) => `dstream-crash:${run}:effects`;
    return {
      read: async (run) => new Map(Object.entries(await client.hgetall(key(run))).map(([id, n]) => [id, Number(n)])),
      close: async (run) => {
        await client.del(key(run));
        await client.quit();
      },
    };
  }
  await requireService('PostgreSQL', services.pgUrl);
  const pool = new Pool({ connectionString: services.pgUrl });
  await pool.query(
    'CREATE TABLE IF NOT EXISTS dstream_crash_effects (run text NOT NULL, record text NOT NULL, n int NOT NULL, PRIMARY KEY (run, record))',
  );
  return {
    read: async (run) => {
      const { rows } = await pool.query<{ record: string; n: number }>('SELECT record, n FROM dstream_crash_effects WHERE run = $1', [run]);
      return new Map(rows.map(({ record, n }) => [record, n]));
    },
    close: async (run) => {
      await pool.query('DELETE FROM dstream_crash_effects WHERE run = $1', [run]);
      await pool.end();
    },
  };
}
