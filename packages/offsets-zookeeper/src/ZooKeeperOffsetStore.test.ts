import { ConfigError, OffsetStoreError } from '@dstream/core';
import { parseOffset, ZooKeeperOffsetStore } from './ZooKeeperOffsetStore';

describe('ZooKeeperOffsetStore options', () => {
  it.each([
    ['an empty connection string', { connectionString: '' }, 'connectionString'],
    ['a host without a port', { connectionString: '127.0.0.1' }, 'connectionString'],
    ['a chroot with a trailing slash', { connectionString: '127.0.0.1:2181/kafka/' }, 'connectionString'],
    ['a relative root', { connectionString: '127.0.0.1:2181', root: 'dstream' }, 'root'],
    ['a root with a ".." segment', { connectionString: '127.0.0.1:2181', root: '/a/../b' }, 'root'],
    ['a fractional session timeout', { connectionString: '127.0.0.1:2181', sessionTimeoutMs: 1500.5 }, 'sessionTimeoutMs'],
    ['a session timeout below one second', { connectionString: '127.0.0.1:2181', sessionTimeoutMs: 10 }, 'sessionTimeoutMs'],
    ['a zero connect timeout', { connectionString: '127.0.0.1:2181', connectTimeoutMs: 0 }, 'connectTimeoutMs'],
  ])('rejects %s with a ConfigError naming the option', (_, options, option) => {
    expect(() => new ZooKeeperOffsetStore(options)).toThrow(ConfigError);
    expect(() => new ZooKeeperOffsetStore(options)).toThrow(expect.objectContaining({ option }));
  });

  it('accepts an ensemble with a chroot and a root', () => {
    expect(
      () => new ZooKeeperOffsetStore({ connectionString: 'zk1:2181,zk2:2181/kafka', root: '/dstream/prod' }),
    ).not.toThrow();
  });

  it('refuses to be used before connect', async () => {
    const store = new ZooKeeperOffsetStore({ connectionString: '127.0.0.1:2181' });
    await expect(store.load('g', [{ topic: 't', partition: 0 }])).rejects.toThrow(/await connect\(\) first/);
  });
});

describe('parseOffset', () => {
  it('reads the decimal string Kafka consumers write', () => {
    expect(parseOffset('/consumers/g/offsets/t/0', Buffer.from('9007199254740991'))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([['abc'], [''], ['-1'], ['1e3'], [' 12'], ['9007199254740993']])(
    'reports %j as an OffsetStoreError naming the znode and the value',
    (text) => {
      const read = () => parseOffset('/consumers/g/offsets/t/0', Buffer.from(text));
      expect(read).toThrow(OffsetStoreError);
      expect(read).toThrow(`znode /consumers/g/offsets/t/0 holds ${JSON.stringify(text)}`);
    },
  );

  it('reports an empty znode as not an offset', () => {
    expect(() => parseOffset('/consumers/g/offsets/t/1', undefined)).toThrow('holds ""');
  });
});
