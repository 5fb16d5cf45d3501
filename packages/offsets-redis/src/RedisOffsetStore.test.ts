import { Redis } from 'ioredis';
import { ConfigError } from '@dstream/core';
import { RedisOffsetStore, RedisOffsetStoreOptions } from './RedisOffsetStore';

function configErrorOf(options: RedisOffsetStoreOptions): ConfigError {
  try {
    new RedisOffsetStore(options);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('no ConfigError was thrown');
}

describe('RedisOffsetStore options', () => {
  it('rejects a url together with a client', () => {
    const client = new Redis({ lazyConnect: true });
    expect(configErrorOf({ url: 'redis://127.0.0.1:6379', redis: client })).toMatchObject({ option: 'url' });
    expect(client.status).toBe('wait');
  });

  it('rejects a url that is not redis:// or rediss://', () => {
    const error = configErrorOf({ url: 'http://127.0.0.1:6379' });
    expect(error).toMatchObject({ option: 'url', value: 'http://127.0.0.1:6379' });
    expect(error.message).toContain('must be a redis:// or rediss:// URL');
    expect(configErrorOf({ url: 'not a url' }).option).toBe('url');
  });

  it('rejects a client that is not an ioredis client', () => {
    expect(configErrorOf({ redis: {} as Redis }).option).toBe('redis');
  });

  it('rejects an empty key prefix', () => {
    expect(configErrorOf({ keyPrefix: '' })).toMatchObject({ option: 'keyPrefix', value: '' });
  });

  it('rejects a connect timeout that is not a positive integer', () => {
    expect(configErrorOf({ connectTimeoutMs: 0 }).option).toBe('connectTimeoutMs');
    expect(configErrorOf({ connectTimeoutMs: 1.5 }).option).toBe('connectTimeoutMs');
    expect(configErrorOf({ connectTimeoutMs: Number.POSITIVE_INFINITY }).option).toBe('connectTimeoutMs');
  });

  it('accepts the defaults without connecting', async () => {
    const store = new RedisOffsetStore();
    expect(store.name).toBe('redis');
    expect(store.supportsTransactions).toBe(true);
    await store.close();
  });
});
