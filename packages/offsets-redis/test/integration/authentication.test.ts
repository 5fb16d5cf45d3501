// A Redis server of the test's own that asks for a password (requirepass) and has an ACL user
// without write rights: right credentials work, wrong ones fail at once with AuthenticationError,
// and nothing printed in any case shows a password.
import { Redis } from 'ioredis';
import { AuthenticationError, ConfigError, OffsetRange } from '@dstream/core';
import { captureOutput } from '@dstream/core/testing';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { PrivateRedisServer } from './privateRedisServer';

const PASSWORD = `RedisPw-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
const READER_PASSWORD = `ReaderPw-${Math.random().toString(36).slice(2, 10)}`;
const WRONG = `RedisWrong-${Math.random().toString(36).slice(2, 10)}`;

let server: PrivateRedisServer;
beforeAll(async () => {
  server = await PrivateRedisServer.start(['--requirepass', PASSWORD]);
  const admin = new Redis({ port: server.port, host: '127.0.0.1', password: PASSWORD });
  try {
    // Reads only: every write the store makes is denied (NOPERM).
    await admin.call('ACL', 'SETUSER', 'reader', 'on', `>${READER_PASSWORD}`, '~*', '+@read', '+@connection');
  } finally {
    admin.disconnect();
  }
});
afterAll(() => server?.destroy());

const url = (auth: string) => `redis://${auth}127.0.0.1:${server.port}`;
const commitOf = (until: number) => [{ range: OffsetRange.create('orders', 0, 0, until), expectedOffset: null }];

async function refused(operation: Promise<unknown>): Promise<{ error: AuthenticationError; elapsedMs: number }> {
  const started = Date.now();
  const error = await operation.then(
    () => new Error('the operation succeeded'),
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AuthenticationError);
  return { error: error as AuthenticationError, elapsedMs: Date.now() - started };
}

describe('RedisOffsetStore with a password', () => {
  it('connects and commits with the right password', async () => {
    const store = new RedisOffsetStore({ url: url(`:${encodeURIComponent(PASSWORD)}@`) });
    try {
      await store.connect();
      await store.commit('g', commitOf(5));
      expect((await store.load('g', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(5);
    } finally {
      await store.close();
    }
  });

  it('refuses a wrong password, no password and a user without write rights at once, and prints no secret', async () => {
    const output = captureOutput();
    const stores: RedisOffsetStore[] = [];
    const store = (options: ConstructorParameters<typeof RedisOffsetStore>[0]) => {
      const created = new RedisOffsetStore({ connectTimeoutMs: 10_000, ...options });
      stores.push(created);
      return created;
    };
    try {
      const wrong = await refused(store({ url: url(`:${WRONG}@`) }).connect());
      expect(wrong.elapsedMs).toBeLessThan(2000);
      expect(wrong.error).toMatchObject({ service: 'redis', address: `127.0.0.1:${server.port}`, retriable: false });
      expect(wrong.error.message).toContain('WRONGPASS');

      const none = await refused(store({ url: url('') }).connect());
      expect(none.elapsedMs).toBeLessThan(2000);
      expect(none.error.message).toContain('NOAUTH');

      const wrongUser = await refused(store({ url: url(`reader:${WRONG}@`) }).connect());
      expect(wrongUser.error.user).toBe('reader');

      const reader = store({ url: url(`reader:${READER_PASSWORD}@`) });
      await reader.connect();
      const denied = await refused(reader.commit('g', commitOf(7)));
      expect(denied.error.message).toContain('NOPERM');
      expect(denied.error.user).toBe('reader');

      // A client of the user's: ioredis keeps the password in its options.
      const client = new Redis({ port: server.port, host: '127.0.0.1', password: WRONG, lazyConnect: true });
      client.on('error', () => undefined);
      const own = await refused(store({ redis: client }).connect());
      client.disconnect();

      for (const error of [wrong.error, none.error, wrongUser.error, denied.error, own.error]) {
        console.error(error);
        console.log(String(error), error.cause);
        output.record('error', error);
      }
      for (const shown of stores) {
        console.log(shown);
        output.record('store', shown);
      }
      const misused = [
        () => new RedisOffsetStore({ url: url(`:${PASSWORD}@`), redis: client }),
        () => new RedisOffsetStore({ url: `http://:${PASSWORD}@127.0.0.1:${server.port}` }),
        () => new RedisOffsetStore({ redis: { host: '127.0.0.1', password: PASSWORD } as unknown as Redis }),
      ];
      for (const make of misused) {
        expect(make).toThrow(ConfigError);
        try {
          make();
        } catch (error) {
          console.error(error);
          output.record('config error', error);
        }
      }
    } finally {
      output.restore();
      await Promise.all(stores.map((created) => created.close()));
    }
    const printed = output.text();
    expect(printed).toContain('WRONGPASS');
    expect(printed).toContain('***');
    for (const secret of [PASSWORD, READER_PASSWORD, WRONG]) expect(printed).not.toContain(secret);
  }, 30_000);

  it('keeps the offsets of a group containing ":" apart from every other group', async () => {
    const store = new RedisOffsetStore({ url: url(`:${PASSWORD}@`), keyPrefix: 'sep' });
    const admin = new Redis({ port: server.port, host: '127.0.0.1', password: PASSWORD });
    try {
      await store.connect();
      // Unescaped, both would be the hash "sep:a:b:orders".
      await store.commit('a:b', commitOf(3));
      await store.commit('a', [{ range: OffsetRange.create('b:orders', 0, 0, 9), expectedOffset: null }]);
      expect((await store.load('a:b', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(3);
      expect(await admin.hgetall('sep:a%3Ab:orders')).toEqual({ '0': '3' });
      expect(await admin.hgetall('sep:a:b%3Aorders')).toEqual({ '0': '9' });
    } finally {
      await store.close();
      admin.disconnect();
    }
  });
});
