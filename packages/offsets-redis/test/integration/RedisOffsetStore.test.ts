import { Redis, type ChainableCommander } from 'ioredis';
import { OffsetRange, OffsetStoreError, StaleOffsetError } from '@dstream/core';
import { describeOffsetStoreContract, freeLoopbackPort } from '@dstream/core/testing';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { PrivateRedisServer } from './privateRedisServer';

const REDIS_URL = process.env.DSTREAM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
let groupNumber = 0;
const uniqueGroup = () => `redis-test-${run}-${(groupNumber += 1)}`;
const dataKey = (key: string) => `dstream-test:${key}`;

async function connected(options: ConstructorParameters<typeof RedisOffsetStore>[0]): Promise<RedisOffsetStore> {
  const store = new RedisOffsetStore(options);
  await store.connect();
  return store;
}

function first(topic: string, partition: number, until: number) {
  return { range: OffsetRange.create(topic, partition, 0, until), expectedOffset: null };
}
function next(topic: string, partition: number, from: number, until: number) {
  return { range: OffsetRange.create(topic, partition, from, until), expectedOffset: from };
}

let raw: Redis;
beforeAll(async () => {
  raw = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await raw.connect();
});
afterAll(() => raw.quit());

describeOffsetStoreContract<ChainableCommander>('RedisOffsetStore', {
  create: () => connected({ url: REDIS_URL }),
  transactionalWrite: (tx, key, value) => void tx.set(dataKey(key), value),
  readWritten: (key) => raw.get(dataKey(key)),
}, { describe, it, expect });

describe('RedisOffsetStore on a server of its own', () => {
  let server: PrivateRedisServer;
  beforeAll(async () => {
    server = await PrivateRedisServer.start();
  });
  afterAll(async () => {
    await server.destroy();
  });

  describeOffsetStoreContract<ChainableCommander>('RedisOffsetStore with append-only persistence', {
    create: () => connected({ url: server.url }),
    restartServer: () => server.restart(),
    transactionalWrite: (tx, key, value) => void tx.set(dataKey(key), value),
    readWritten: async (key) => {
      // The server restarts between tests, so each read uses a connection of its own.
      const reader = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await reader.connect();
        return await reader.get(dataKey(key));
      } finally {
        reader.disconnect();
      }
    },
  }, { describe, it, expect });

  it('fails commands with a retriable error while the server is down and recovers when it is back', async () => {
    const store = await connected({ url: server.url });
    const group = uniqueGroup();
    try {
      await store.commit(group, [first('orders', 0, 10)]);
      await server.kill();

      const outage = store.load(group, [{ topic: 'orders', partition: 0 }]);
      await expect(outage).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(outage).rejects.toMatchObject({ retriable: true });

      await server.restart();
      const loaded = await waitFor(() => store.load(group, [{ topic: 'orders', partition: 0 }]));
      expect(loaded.get('orders:0')).toBe(10);
      await waitFor(() => store.transaction(group, [next('orders', 0, 10, 20)], async (tx) => void tx.set(dataKey(group), 'x')));
      expect((await store.load(group, [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(20);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('RedisOffsetStore', () => {
  it('keeps each group and topic in a hash of partition fields under the key prefix', async () => {
    const group = uniqueGroup();
    const store = await connected({ url: REDIS_URL, keyPrefix: 'dstream-test:offsets' });
    try {
      await store.commit(group, [first('orders', 0, 10), first('orders', 3, 7), first('payments', 1, 4)]);

      expect(await raw.hgetall(`dstream-test:offsets:${group}:orders`)).toEqual({ '0': '10', '3': '7' });
      expect(await raw.hgetall(`dstream-test:offsets:${group}:payments`)).toEqual({ '1': '4' });
      expect(await raw.exists(`dstream:offsets:${group}:orders`)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('reads offsets written by redis-cli in the same layout', async () => {
    const group = uniqueGroup();
    await raw.hset(`dstream:offsets:${group}:orders`, '2', '42');
    const store = await connected({ url: REDIS_URL });
    try {
      expect((await store.load(group, [{ topic: 'orders', partition: 2 }])).get('orders:2')).toBe(42);
    } finally {
      await store.close();
    }
  });

  it('rejects a stored value that is not an offset, naming the key, the field and the value', async () => {
    const group = uniqueGroup();
    await raw.hset(`dstream:offsets:${group}:orders`, '0', '12abc');
    const store = await connected({ url: REDIS_URL });
    try {
      const load = store.load(group, [{ topic: 'orders', partition: 0 }]);
      await expect(load).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(load).rejects.toThrow(`hash dstream:offsets:${group}:orders field 0 holds "12abc"`);
      await expect(store.commit(group, [next('orders', 0, 12, 20)])).rejects.toThrow('holds "12abc"');
      expect(await raw.hget(`dstream:offsets:${group}:orders`, '0')).toBe('12abc');
    } finally {
      await store.close();
    }
  });

  it('commits after the server forgot its scripts', async () => {
    const group = uniqueGroup();
    const store = await connected({ url: REDIS_URL });
    try {
      await store.commit(group, [first('orders', 0, 10)]);
      await raw.script('FLUSH');
      await store.commit(group, [next('orders', 0, 10, 20)]);
      expect((await store.load(group, [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(20);
    } finally {
      await store.close();
    }
  });

  it('retries a transaction whose EXEC another member aborted by committing another partition of the topic', async () => {
    const group = uniqueGroup();
    const [store, other] = [await connected({ url: REDIS_URL }), await connected({ url: REDIS_URL })];
    try {
      await store.commit(group, [first('orders', 0, 10), first('orders', 1, 10)]);
      let runs = 0;

      await store.transaction(group, [next('orders', 0, 10, 20)], async (tx) => {
        runs += 1;
        if (runs === 1) await other.commit(group, [next('orders', 1, 10, 15)]);
        tx.incrby(dataKey(group), 5);
      });

      expect(runs).toBe(2);
      expect(await raw.get(dataKey(group))).toBe('5');
      expect(await raw.hgetall(`dstream:offsets:${group}:orders`)).toEqual({ '0': '20', '1': '15' });
    } finally {
      await Promise.all([store.close(), other.close()]);
    }
  });

  it('reports a command that failed inside EXEC as a non-retriable error naming it', async () => {
    const group = uniqueGroup();
    const store = await connected({ url: REDIS_URL });
    try {
      await raw.set(dataKey(group), 'a string');
      const failing = store.transaction(group, [first('orders', 0, 10)], async (tx) => void tx.hset(dataKey(group), 'f', '1'));

      await expect(failing).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(failing).rejects.toMatchObject({ retriable: false });
      await expect(failing).rejects.toThrow(/command 1 of the transaction .* WRONGTYPE/);
    } finally {
      await store.close();
    }
  });

  it('names the key, its prefix and the fix when an offsets key is not a hash', async () => {
    const group = uniqueGroup();
    const key = `dstream:offsets:${group}:orders`;
    const store = await connected({ url: REDIS_URL });
    try {
      await raw.set(key, 'not a hash');
      const loading = store.load(group, [{ topic: 'orders', partition: 0 }]);
      await expect(loading).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(loading).rejects.toMatchObject({ retriable: false });
      await expect(loading).rejects.toThrow(`key ${key} is not a hash of offsets (WRONGTYPE`);
      await expect(loading).rejects.toThrow(`rename or delete the key if it is not needed, or pass another keyPrefix (now dstream:offsets)`);
    } finally {
      await raw.del(key);
      await store.close();
    }
  });

  it('uses a client it is given without closing it', async () => {
    const group = uniqueGroup();
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    const store = await connected({ redis: client });
    try {
      await store.transaction(group, [first('orders', 0, 10)], async (tx) => void tx.set(dataKey(group), 'v'));
      await store.close();

      expect(client.status).toBe('ready');
      expect(await client.hget(`dstream:offsets:${group}:orders`, '0')).toBe('10');
    } finally {
      client.disconnect();
    }
  });

  it('fails to connect to an address where nothing listens with a retriable error naming it, within the timeout', async () => {
    const port = await freeLoopbackPort();
    const store = new RedisOffsetStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 });
    const started = Date.now();

    const connecting = store.connect();
    await expect(connecting).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(connecting).rejects.toMatchObject({ retriable: true });
    await expect(connecting).rejects.toThrow(`no Redis server answered at 127.0.0.1:${port} within 300 ms`);
    await expect(connecting).rejects.toThrow('. Start Redis there, or fix the host and port of the url');
    expect(Date.now() - started).toBeLessThan(3000);
    // A failed connect leaves the store unconnected (not closed): connect may be called again.
    await expect(store.load('g', [])).rejects.toThrow('await connect() first');
    await store.close();
  });

  it('refuses to work before connect and after close', async () => {
    const store = new RedisOffsetStore({ url: REDIS_URL });
    await expect(store.load('g', [])).rejects.toThrow('await connect() first');
    await store.connect();
    await store.close();
    await expect(store.commit('g', [first('orders', 0, 1)])).rejects.toThrow('is closed');
  });
});

/** Retries `operation` until it resolves (the client reconnects in the background), for up to 10 s. */
async function waitFor<T>(operation: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof OffsetStoreError) || error instanceof StaleOffsetError || !error.retriable || Date.now() > deadline) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
