import { execFile } from 'node:child_process';
import { AddressInfo, connect, createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OffsetRange, OffsetStoreError, StaleOffsetError } from '@dstream/core';
import { describeOffsetStoreContract } from '@dstream/core/testing';
import { Client, createClient } from 'node-zookeeper-client';
import { ZooKeeperOffsetStore } from '@dstream/offsets-zookeeper';

const ZK = process.env.DSTREAM_ZK ?? '127.0.0.1:2181';
const REPO = join(__dirname, '../../../..');
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
/** Every store of this file writes under its own root, so runs never see each other's offsets. */
const ROOT = `/dstream-test/${run}`;

async function connectedStore(root = ROOT): Promise<ZooKeeperOffsetStore> {
  const store = new ZooKeeperOffsetStore({ connectionString: ZK, root, sessionTimeoutMs: 6000, connectTimeoutMs: 10_000 });
  await store.connect();
  return store;
}

/** A plain client, to look at and tamper with znodes as Kafka's tools and other processes would. */
async function rawClient(options: Record<string, unknown> = {}): Promise<Client> {
  const client = createClient(ZK, options);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ZooKeeper at ${ZK} is not reachable`)), 10_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  return client;
}

function getData(client: Client, path: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.getData(path, (error, data) => (error ? reject(error) : resolve(data.toString('utf8')))),
  );
}

function putData(client: Client, path: string, value: string): Promise<void> {
  return new Promise((resolve, reject) =>
    client.mkdirp(path, (error) =>
      error ? reject(error) : client.setData(path, Buffer.from(value), (e) => (e ? reject(e) : resolve())),
    ),
  );
}

/** A TCP proxy to `target` on a free loopback port whose connections a test can cut and allow again. */
async function startProxy(target: string) {
  const [host, port] = target.split(',')[0]!.split(':');
  const sockets = new Set<Socket>();
  let isOpen = true;
  const server = createServer((downstream) => {
    if (!isOpen) {
      downstream.destroy();
      return;
    }
    const upstream = connect(Number(port), host);
    const drop = () => {
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on('error', drop).on('close', drop);
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = () => {
    isOpen = false;
    for (const socket of sockets) socket.destroy();
  };
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut,
    restore: () => {
      isOpen = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
}

describeOffsetStoreContract('ZooKeeperOffsetStore', {
  create: () => connectedStore(),
  // ZooKeeper keeps its data in its dataDir; `scripts/services` stops and starts the server on it.
  async restartServer() {
    const services = join(REPO, 'scripts/services');
    await promisify(execFile)('bash', [services, 'down', 'zookeeper'], { cwd: REPO });
    await promisify(execFile)('bash', [services, 'up', 'zookeeper'], { cwd: REPO });
  },
}, { describe, it, expect });

describe('ZooKeeperOffsetStore on a real ZooKeeper', () => {
  const opened: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((closable) => closable.close()));
  });
  const open = async (root?: string) => {
    const store = await connectedStore(root);
    opened.push(store);
    return store;
  };
  const raw = async (options?: Record<string, unknown>) => {
    const client = await rawClient(options);
    opened.push(client);
    return client;
  };

  it('stores the next offset to read as a decimal string where Kafka tools look for it', async () => {
    const store = await open();
    await store.commit('layout', [{ range: OffsetRange.create('orders', 3, 0, 42), expectedOffset: null }]);

    const client = await raw();
    expect(await getData(client, `${ROOT}/consumers/layout/offsets/orders/3`)).toBe('42');
  });

  it('loads offsets that another ZooKeeper client wrote in the same layout', async () => {
    const client = await raw();
    await putData(client, `${ROOT}/consumers/legacy/offsets/orders/0`, '1234');

    const store = await open();
    expect((await store.load('legacy', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(1234);
  });

  it('reports a stored value that is not an offset with the znode path and the value', async () => {
    const client = await raw();
    const path = `${ROOT}/consumers/corrupt/offsets/orders/0`;
    await putData(client, path, 'twelve');

    const store = await open();
    const load = store.load('corrupt', [{ topic: 'orders', partition: 0 }]);
    await expect(load).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(load).rejects.toThrow(`znode ${path} holds "twelve"`);
  });

  it('reports a partition changed by another writer between read and write as stale', async () => {
    const store = await open();
    await store.commit('race', [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }]);
    const client = await raw();
    await putData(client, `${ROOT}/consumers/race/offsets/orders/0`, '30');

    const commit = store.commit('race', [{ range: OffsetRange.create('orders', 0, 10, 20), expectedOffset: 10 }]);
    await expect(commit).rejects.toBeInstanceOf(StaleOffsetError);
    await expect(commit).rejects.toMatchObject({ expectedOffset: 10, actualOffset: 30 });
  });

  it('opens a new session and goes on committing after its session expired', async () => {
    // The store reaches ZooKeeper through a proxy this test can cut, so its client cannot take the
    // session back while another connection ends it: the store's reconnect then finds it expired.
    const proxy = await startProxy(ZK);
    opened.push(proxy);
    const store = new ZooKeeperOffsetStore({ connectionString: proxy.address, root: ROOT, sessionTimeoutMs: 6000, connectTimeoutMs: 20_000 });
    opened.push(store);
    await store.connect();
    await store.commit('expiry', [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }]);

    const session = (store as unknown as { client: Client }).client;
    const expired = new Promise<void>((resolve) => session.once('expired', () => resolve()));
    proxy.cut();
    // node-zookeeper-client accepts an existing session's id and password, untyped.
    const stolen: Record<string, unknown> = { sessionId: session.getSessionId(), sessionPassword: session.getSessionPassword() };
    const thief = await raw(stolen);
    await new Promise<void>((resolve) => {
      thief.once('disconnected', () => resolve());
      thief.close();
    });
    proxy.restore();
    await expired;

    await store.commit('expiry', [{ range: OffsetRange.create('orders', 0, 10, 25), expectedOffset: 10 }]);
    expect((store as unknown as { client: Client }).client).not.toBe(session);
    expect((await store.load('expiry', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(25);
  });

  it('fails to connect to an address where no ZooKeeper listens within the connect timeout, retriably', async () => {
    const store = new ZooKeeperOffsetStore({ connectionString: '127.0.0.1:1', connectTimeoutMs: 1500 });
    const started = Date.now();

    const connect = store.connect();
    await expect(connect).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(connect).rejects.toMatchObject({ retriable: true });
    await expect(connect).rejects.toThrow('127.0.0.1:1');
    expect(Date.now() - started).toBeLessThan(5000);
    await store.close();
  });
});
