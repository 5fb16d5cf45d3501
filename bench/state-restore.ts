/**
 * State restore: how long a restarted job takes to read a `mapWithState` operator's stored state
 * (KEYS keys, default 100,000) from each store that keeps state, and to restore it into the
 * operator — what `StatePersistence.restore` does before the first batch — against the same
 * store's raw read of the same data without decoding (the baseline, measured in the same run).
 * Also reports what writing the state cost: the median state-only commit of CHUNK (10,000)
 * changed keys.
 *
 * Build (`npx tsc -b bench`), start Redis and PostgreSQL, then `node bench/dist/state-restore.js`.
 * `KEYS`, `CHUNK` and `ROUNDS` in the environment override the defaults. Not part of `npm run bench`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DStream, InMemoryOffsetStore, StateSpec, stateRegistryOf, type OffsetStore, type StreamingContextLike } from '@dstream/core';
import { CheckpointOffsetStore } from '@dstream/offsets-checkpoint';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { services } from '@dstream/test-utils';
import { elapsedMs, median, printTable } from './lib/stats';

const KEY_COUNT = Number(process.env.KEYS ?? 100_000);
const CHUNK = Number(process.env.CHUNK ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const GROUP = `dstream-bench-state-restore-${process.pid}`;
const OPERATOR = 'sessions';

/** A mapWithState operator over an idle source: the bench only restores into it. */
function mapWithStateOperator() {
  const context: StreamingContextLike = {
    batchIntervalMs: 1000,
    zeroTimeMs: 0,
    registerInput: () => undefined,
    assertCanAddOperation: () => undefined,
    registerOutput: () => undefined,
    awaitTermination: () => new Promise<void>(() => undefined),
  };
  const source = new DStream<readonly [string, number]>(context, { name: 'memory', slideDurationMs: 1000, dependencies: [], compute: () => [] });
  source.mapWithState(StateSpec.function((_key: string, value: number | undefined) => value).name(OPERATOR));
  return stateRegistryOf(context).get(OPERATOR)!;
}

interface Variant {
  readonly name: string;
  readonly store: OffsetStore;
  /** Reads the stored state without decoding it, or undefined when the store has no such read. */
  readonly rawRead?: () => Promise<unknown>;
  readonly cleanUp: () => Promise<void>;
}

async function variants(): Promise<Variant[]> {
  const redis = new Redis(services.redisUrl);
  const pool = new Pool({ connectionString: services.pgUrl });
  const directory = mkdtempSync(join(tmpdir(), 'dstream-bench-state-'));
  const stateHash = `dstream:offsets:${GROUP}:state:${OPERATOR}`;
  return [
    { name: 'InMemoryOffsetStore', store: new InMemoryOffsetStore(), cleanUp: async () => undefined },
    {
      name: 'RedisOffsetStore',
      store: new RedisOffsetStore({ url: services.redisUrl }),
      rawRead: () => redis.hgetall(stateHash),
      cleanUp: async () => {
        await redis.del(stateHash);
        await redis.quit();
      },
    },
    {
      name: 'PostgresOffsetStore',
      store: new PostgresOffsetStore({ connectionString: services.pgUrl }),
      rawRead: () => pool.query('SELECT key, record::text FROM dstream_state WHERE group_id = $1 AND operator = $2', [GROUP, OPERATOR]),
      cleanUp: async () => {
        await pool.query('DELETE FROM dstream_state WHERE group_id = $1', [GROUP]);
        await pool.end();
      },
    },
    {
      name: 'CheckpointOffsetStore',
      store: new CheckpointOffsetStore({ directory, retain: 2 }),
      rawRead: async () => {
        const dir = join(directory, GROUP);
        const newest = readdirSync(dir).filter((name) => name.endsWith('.json')).sort().pop()!;
        return readFileSync(join(dir, newest), 'utf8');
      },
      cleanUp: async () => rmSync(directory, { recursive: true, force: true }),
    },
  ];
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  for (const variant of await variants()) {
    const { store } = variant;
    await store.connect();
    try {
      const commitTimes: number[] = [];
      for (let from = 0; from < KEY_COUNT; from += CHUNK) {
        const upserts: [string, { state: number; updatedMs: number }][] = [];
        for (let index = from; index < Math.min(KEY_COUNT, from + CHUNK); index++) {
          upserts.push([`user-${index}`, { state: index, updatedMs: 1_700_000_000_000 + index }]);
        }
        const started = process.hrtime.bigint();
        await store.commit(GROUP, [], [{ operator: OPERATOR, kind: 'mapWithState', stateVersion: 1, upserts, removals: [] }]);
        commitTimes.push(elapsedMs(started));
      }
      const restoreTimes: number[] = [];
      const rawTimes: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const operator = mapWithStateOperator();
        const started = process.hrtime.bigint();
        const loaded = await store.loadState!(GROUP, OPERATOR);
        operator.restore(loaded!.entries);
        restoreTimes.push(elapsedMs(started));
        if (loaded!.entries.length !== KEY_COUNT) throw new Error(`${variant.name} restored ${loaded!.entries.length} keys, not ${KEY_COUNT}`);
        if (variant.rawRead !== undefined) {
          const rawStarted = process.hrtime.bigint();
          await variant.rawRead();
          rawTimes.push(elapsedMs(rawStarted));
        }
      }
      const restore = median(restoreTimes);
      const raw = rawTimes.length > 0 ? median(rawTimes) : undefined;
      rows.push([
        variant.name,
        `${median(commitTimes).toFixed(1)} ms`,
        `${restore.toFixed(0)} ms`,
        raw === undefined ? '—' : `${raw.toFixed(0)} ms`,
        raw === undefined ? '—' : `${(restore / raw).toFixed(2)}×`,
        `${((restore * 1000) / KEY_COUNT).toFixed(1)} µs`,
      ]);
    } finally {
      await store.close();
      await variant.cleanUp();
    }
  }
  console.log(`state restore: ${KEY_COUNT} mapWithState keys, written in state-only commits of ${CHUNK}; median of ${ROUNDS} restores`);
  printTable(['store', `commit of ${CHUNK} keys`, 'restore (read + decode + restore)', 'raw read (baseline)', 'ratio', 'per key'], rows);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
