import { Pool, type PoolClient } from 'pg';
import { OffsetRange, OffsetStoreError, StaleOffsetError } from '@dstream/core';
import { describeOffsetStoreContract, freeLoopbackPort } from '@dstream/core/testing';
import { PostgresOffsetStore, PostgresOffsetStoreOptions } from '@dstream/offsets-postgres';
import { PrivatePostgresServer } from './privatePostgresServer';

const PG_URL = process.env.DSTREAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/dstream';
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
let groupNumber = 0;
const uniqueGroup = () => `pg-test-${run}-${(groupNumber += 1)}`;
// Each run uses its own schema, dropped at the end, so runs never share tables.
const SCHEMA = `dstream_test_${run}`;

async function connected(options: PostgresOffsetStoreOptions): Promise<PostgresOffsetStore> {
  const store = new PostgresOffsetStore(options);
  await store.connect();
  return store;
}

function first(topic: string, partition: number, until: number) {
  return { range: OffsetRange.create(topic, partition, 0, until), expectedOffset: null };
}
function next(topic: string, partition: number, from: number, until: number) {
  return { range: OffsetRange.create(topic, partition, from, until), expectedOffset: from };
}

/** The user's result table that transactions write to. */
async function createResults(pool: Pool): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.results (key text PRIMARY KEY, value text NOT NULL)`);
}
const writeResult = async (tx: PoolClient, key: string, value: string) => {
  await tx.query(
    `INSERT INTO ${SCHEMA}.results (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [key, value],
  );
};
const readResult = async (pool: Pool, key: string) =>
  (await pool.query(`SELECT value FROM ${SCHEMA}.results WHERE key = $1`, [key])).rows[0]?.value;

let raw: Pool;
beforeAll(async () => {
  raw = new Pool({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  const store = await connected({ connectionString: PG_URL, schema: SCHEMA });
  await store.close();
  await createResults(raw);
});
afterAll(async () => {
  await raw.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await raw.end();
});

describeOffsetStoreContract<PoolClient>('PostgresOffsetStore', {
  create: () => connected({ connectionString: PG_URL, schema: SCHEMA }),
  transactionalWrite: writeResult,
  readWritten: (key) => readResult(raw, key),
}, { describe, it, expect });

describe('PostgresOffsetStore on a server of its own', () => {
  let server: PrivatePostgresServer;
  let pool: Pool;
  beforeAll(async () => {
    server = await PrivatePostgresServer.start();
    pool = new Pool({ connectionString: server.connectionString });
    pool.on('error', () => undefined);
    const store = await connected({ connectionString: server.connectionString, schema: SCHEMA });
    await store.close();
    await createResults(pool);
  }, 60_000);
  afterAll(async () => {
    await pool.end();
    await server.destroy();
  });

  describeOffsetStoreContract<PoolClient>('PostgresOffsetStore across crashes', {
    create: () => connected({ connectionString: server.connectionString, schema: SCHEMA }),
    restartServer: () => server.restart(),
    transactionalWrite: writeResult,
    readWritten: (key) => readResult(pool, key),
  }, { describe, it, expect });

  it('fails with a retriable error while the server is down and recovers when it is back', async () => {
    const store = await connected({ connectionString: server.connectionString, schema: SCHEMA, connectTimeoutMs: 1000 });
    const group = uniqueGroup();
    try {
      await store.commit(group, [first('orders', 0, 10)]);
      await server.crash();

      const outage = store.commit(group, [next('orders', 0, 10, 20)]);
      await expect(outage).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(outage).rejects.toMatchObject({ retriable: true });

      await server.startServer();
      await store.commit(group, [next('orders', 0, 10, 20)]);
      expect((await store.load(group, [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(20);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('PostgresOffsetStore', () => {
  it('keeps one row per group, topic and partition in the configured schema and table', async () => {
    const group = uniqueGroup();
    const store = await connected({ connectionString: PG_URL, schema: SCHEMA, table: 'job_offsets' });
    try {
      await store.commit(group, [first('orders', 0, 10), first('orders', 3, 7)]);

      const { rows } = await raw.query(
        `SELECT topic, partition, next_offset, updated_at FROM ${SCHEMA}.job_offsets WHERE group_id = $1 ORDER BY partition`,
        [group],
      );
      expect(rows.map(({ topic, partition, next_offset }) => [topic, partition, next_offset])).toEqual([
        ['orders', 0, '10'],
        ['orders', 3, '7'],
      ]);
      expect(rows[0].updated_at).toBeInstanceOf(Date);
    } finally {
      await store.close();
    }
  });

  it('creates its table from several processes starting at once', async () => {
    const schema = `${SCHEMA}_race`;
    const stores = Array.from({ length: 6 }, () => new PostgresOffsetStore({ connectionString: PG_URL, schema }));
    try {
      await Promise.all(stores.map((store) => store.connect()));
      await stores[0].commit('g', [first('orders', 0, 1)]);
      expect((await stores[5].load('g', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(1);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  it('rejects a stored offset beyond 2^53-1, naming the row and the value', async () => {
    const group = uniqueGroup();
    await raw.query(
      `INSERT INTO ${SCHEMA}.dstream_offsets (group_id, topic, partition, next_offset) VALUES ($1, 'orders', 0, 9007199254740993)`,
      [group],
    );
    const store = await connected({ connectionString: PG_URL, schema: SCHEMA });
    try {
      const load = store.load(group, [{ topic: 'orders', partition: 0 }]);
      await expect(load).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(load).rejects.toThrow(
        `${SCHEMA}.dstream_offsets row (group_id "${group}", topic "orders", partition 0) next_offset holds "9007199254740993"`,
      );
      await expect(store.commit(group, [next('orders', 0, 5, 6)])).rejects.toThrow('next_offset holds "9007199254740993"');
    } finally {
      await store.close();
    }
  });

  it('makes a concurrent first commit of the same partition wait and then fail as stale', async () => {
    const group = uniqueGroup();
    const [a, b] = [
      await connected({ connectionString: PG_URL, schema: SCHEMA }),
      await connected({ connectionString: PG_URL, schema: SCHEMA }),
    ];
    try {
      let releaseA: () => void = () => undefined;
      const aHolds = new Promise<void>((resolve) => (releaseA = resolve));
      let aStarted: () => void = () => undefined;
      const aInside = new Promise<void>((resolve) => (aStarted = resolve));
      // A inserts its row and holds its transaction open; B's insert of the same key waits on it.
      const aCommit = a.transaction(group, [first('orders', 0, 10)], async () => {
        aStarted();
        await aHolds;
      });
      await aInside;
      const bCommit = b.commit(group, [first('orders', 0, 99)]);
      releaseA();

      await aCommit;
      const rejection = bCommit;
      await expect(rejection).rejects.toBeInstanceOf(StaleOffsetError);
      await expect(rejection).rejects.toMatchObject({ expectedOffset: null, actualOffset: 10 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('rolls back the user writes when a write of the transaction fails, and keeps the connection pool usable', async () => {
    const group = uniqueGroup();
    const store = await connected({ connectionString: PG_URL, schema: SCHEMA });
    try {
      const failing = store.transaction(group, [first('orders', 0, 10)], async (tx) => {
        await writeResult(tx, `${group}:kept`, 'x');
        await tx.query('SELECT no_such_column FROM pg_class');
      });
      await expect(failing).rejects.toThrow('no_such_column');

      expect(await readResult(raw, `${group}:kept`)).toBeUndefined();
      await store.commit(group, [first('orders', 0, 10)]);
      expect((await store.load(group, [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(10);
    } finally {
      await store.close();
    }
  });

  it('uses a pool it is given without ending it', async () => {
    const group = uniqueGroup();
    const pool = new Pool({ connectionString: PG_URL });
    try {
      const store = await connected({ pool, schema: SCHEMA });
      await store.commit(group, [first('orders', 0, 10)]);
      await store.close();

      const { rows } = await pool.query(`SELECT next_offset FROM ${SCHEMA}.dstream_offsets WHERE group_id = $1`, [group]);
      expect(rows).toEqual([{ next_offset: '10' }]);
    } finally {
      await pool.end();
    }
  });

  it('fails to connect to an address where nothing listens with a retriable error naming it, within the timeout', async () => {
    const port = await freeLoopbackPort();
    const store = new PostgresOffsetStore({ connectionString: `postgres://postgres@127.0.0.1:${port}/app`, connectTimeoutMs: 300 });
    const started = Date.now();

    const connecting = store.connect();
    await expect(connecting).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(connecting).rejects.toMatchObject({ retriable: true });
    await expect(connecting).rejects.toThrow(`no PostgreSQL server accepted a connection at 127.0.0.1:${port}/app within 300 ms`);
    await expect(connecting).rejects.toThrow('. Start PostgreSQL there, or fix the host and port of the connectionString');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('fails to connect to a database that does not exist with a non-retriable error', async () => {
    const url = new URL(PG_URL);
    url.pathname = `/no_such_db_${run}`;
    const store = new PostgresOffsetStore({ connectionString: url.toString(), connectTimeoutMs: 5000 });
    const started = Date.now();

    const connecting = store.connect();
    await expect(connecting).rejects.toMatchObject({ retriable: false, message: expect.stringContaining('3D000') });
    await expect(connecting).rejects.toThrow(
      `database "no_such_db_${run}" does not exist (SQLSTATE 3D000). Create it (CREATE DATABASE "no_such_db_${run}";), ` +
        'or fix the database name of the connectionString',
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('names the role and how to create it when the role does not exist', async () => {
    const url = new URL(PG_URL);
    url.username = `no_such_role_${run}`;
    const store = new PostgresOffsetStore({ connectionString: url.toString(), connectTimeoutMs: 5000 });
    const connecting = store.connect();
    await expect(connecting).rejects.toMatchObject({ name: 'AuthenticationError', retriable: false });
    await expect(connecting).rejects.toThrow(`role "no_such_role_${run}" does not exist (SQLSTATE 28000)`);
    await expect(connecting).rejects.toThrow(`Create the role (CREATE ROLE "no_such_role_${run}" LOGIN;)`);
  });

  it('refuses at connect an offsets table that has other columns, naming it and the fix', async () => {
    const pool = new Pool({ connectionString: PG_URL });
    const table = `foreign_offsets_${run}`;
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${SCHEMA}"`);
      await pool.query(`CREATE TABLE "${SCHEMA}"."${table}" (grp text, tpc text, part int, off bigint)`);
      const store = new PostgresOffsetStore({ connectionString: PG_URL, schema: SCHEMA, table });
      const connecting = store.connect();
      await expect(connecting).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(connecting).rejects.toMatchObject({ retriable: false });
      await expect(connecting).rejects.toThrow(
        `the offsets table ${SCHEMA}.${table} at 127.0.0.1:5432/dstream lacks columns group_id, topic, partition, next_offset, updated_at ` +
          '(it has grp, tpc, part, off): it was not made by this store. Pass another table (the store creates it), or rename or drop this one',
      );
    } finally {
      await pool.query(`DROP TABLE IF EXISTS "${SCHEMA}"."${table}"`);
      await pool.end();
    }
  });

  it('refuses to work before connect and after close', async () => {
    const store = new PostgresOffsetStore({ connectionString: PG_URL, schema: SCHEMA });
    await expect(store.load('g', [])).rejects.toThrow('await connect() first');
    await store.connect();
    await store.close();
    await expect(store.commit('g', [first('orders', 0, 1)])).rejects.toThrow('is closed');
  });
});
