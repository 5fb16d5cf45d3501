import { EventEmitter } from 'node:events';
import { Pool } from 'pg';
import { ConfigError } from '@dstream/core';
import { PostgresOffsetStore, PostgresOffsetStoreOptions } from './PostgresOffsetStore';

function configErrorOf(options: PostgresOffsetStoreOptions): ConfigError {
  try {
    new PostgresOffsetStore(options);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('no ConfigError was thrown');
}

describe('PostgresOffsetStore options', () => {
  it('rejects a connection string together with a pool', async () => {
    const pool = new Pool();
    try {
      expect(configErrorOf({ connectionString: 'postgres://127.0.0.1/app', pool })).toMatchObject({ option: 'connectionString' });
      expect(pool.totalCount).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('rejects a connection string that is not a postgres:// URL', () => {
    const error = configErrorOf({ connectionString: 'mysql://127.0.0.1/app' });
    expect(error).toMatchObject({ option: 'connectionString', value: 'mysql://127.0.0.1/app' });
    expect(error.message).toContain('must be a postgres:// or postgresql:// URL');
  });

  it('rejects a pool that is not a pg Pool', () => {
    expect(configErrorOf({ pool: {} as Pool }).option).toBe('pool');
  });

  it('rejects schema and table names that would need quoting', () => {
    expect(configErrorOf({ schema: 'my schema' })).toMatchObject({ option: 'schema', value: 'my schema' });
    expect(configErrorOf({ table: '1offsets' })).toMatchObject({ option: 'table', value: '1offsets' });
    expect(configErrorOf({ table: 'offsets"; DROP TABLE x; --' }).option).toBe('table');
    expect(configErrorOf({ table: 'a'.repeat(64) }).option).toBe('table');
  });

  it('rejects a connect timeout that is not a positive integer', () => {
    expect(configErrorOf({ connectTimeoutMs: -1 }).option).toBe('connectTimeoutMs');
    expect(configErrorOf({ connectTimeoutMs: Number.NaN }).option).toBe('connectTimeoutMs');
  });

  it('accepts the defaults without connecting', async () => {
    const store = new PostgresOffsetStore();
    expect(store.name).toBe('postgres');
    expect(store.supportsTransactions).toBe(true);
    await store.close();
  });
});

describe('PostgresOffsetStore connections', () => {
  it('listens to the error event of a client it checks out, so a server crash mid-transaction does not end the process', async () => {
    const pool = new Pool();
    try {
      new PostgresOffsetStore({ pool });
      const client = new EventEmitter();
      pool.emit('acquire', client);
      pool.emit('acquire', client);
      expect(client.listenerCount('error')).toBe(1);
      expect(() => client.emit('error', new Error('terminating connection due to administrator command'))).not.toThrow();
    } finally {
      await pool.end();
    }
  });
});
