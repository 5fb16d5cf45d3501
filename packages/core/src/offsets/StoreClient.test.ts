import { AuthenticationError, KafkaError, OffsetStoreError, StaleOffsetError } from '../errors';
import { StoreClient, type StoreDriver } from './StoreClient';

/** A driver whose connections are numbers, counting acquires and releases; `failNext` fails the next acquire. */
function fakeDriver(overrides: Partial<StoreDriver<number>> = {}) {
  const calls = { acquired: 0, released: [] as number[], failNext: false };
  let gate: Promise<void> = Promise.resolve();
  const driver: StoreDriver<number> = {
    store: 'fake',
    address: 'fake:1',
    acquire: async () => {
      await gate;
      calls.acquired += 1;
      if (calls.failNext) {
        calls.failNext = false;
        throw new Error('ECONNREFUSED');
      }
      return calls.acquired;
    },
    release: async (connection) => void calls.released.push(connection),
    ...overrides,
  };
  const hold = () => {
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    return () => open();
  };
  return { driver, calls, hold };
}

describe('StoreClient', () => {
  it('connects once when connect is called concurrently and again later', async () => {
    const { driver, calls } = fakeDriver();
    const client = new StoreClient(driver);
    await Promise.all([client.connect(), client.connect(), client.connect()]);
    await client.connect();
    expect(calls.acquired).toBe(1);
    expect(client.connection).toBe(1);
  });

  it('leaves the store unconnected after a failed connect, wrapped as a retriable OffsetStoreError, and connects on the next call', async () => {
    const { driver, calls } = fakeDriver();
    calls.failNext = true;
    const client = new StoreClient(driver);
    const failed = client.connect();
    await expect(failed).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(failed).rejects.toMatchObject({ retriable: true, message: expect.stringContaining('connect at fake:1 failed: ECONNREFUSED') });
    expect(client.state).toBe('new');
    await client.connect();
    expect(client.connection).toBe(2);
  });

  it('refuses use before connect and after close, connect included, with a non-retriable OffsetStoreError', async () => {
    const { driver } = fakeDriver();
    const client = new StoreClient(driver);
    expect(() => client.connection).toThrow('not connected to fake:1; await connect() first');
    await expect(client.run('load', async () => 1)).rejects.toThrow('await connect() first');
    await client.connect();
    await client.close();
    for (const use of [() => client.run('load', async () => 1), () => client.connect(), async () => client.assertOpen()]) {
      await expect(use()).rejects.toMatchObject({ constructor: OffsetStoreError, retriable: false, message: expect.stringContaining('closed') });
    }
    expect(() => client.assertNotClosed()).toThrow('closed');
  });

  it('closes idempotently, releasing the connection once', async () => {
    const { driver, calls } = fakeDriver();
    const client = new StoreClient(driver);
    await client.connect();
    await Promise.all([client.close(), client.close()]);
    await client.close();
    expect(calls.released).toEqual([1]);
  });

  it('releases a connection whose connect was still running when it closed, and that connect rejects', async () => {
    const { driver, calls, hold } = fakeDriver();
    const open = hold();
    const client = new StoreClient(driver);
    const connecting = client.connect();
    const closing = client.close();
    open();
    await expect(connecting).rejects.toThrow('closed');
    await closing;
    expect(calls.released).toEqual([1]);
  });

  it('waits for the operations in flight before it releases the connection', async () => {
    const { driver, calls } = fakeDriver();
    const client = new StoreClient(driver);
    await client.connect();
    let finish!: () => void;
    const reading = client.run('read', () => new Promise<string>((resolve) => (finish = () => resolve('read'))));
    const transaction = client.use(async () => 'tx');
    let isClosed = false;
    const closing = client.close().then(() => void (isClosed = true));
    await Promise.resolve();
    expect(isClosed).toBe(false);
    expect(calls.released).toEqual([]);
    finish();
    await closing;
    expect(await reading).toBe('read');
    expect(await transaction).toBe('tx');
    expect(calls.released).toEqual([1]);
  });

  it("wraps a driver's errors through the driver, passes the store's own through, and leaves use's errors as they are", async () => {
    const wrapped = new OffsetStoreError('fake', 'wrapped', { retriable: false });
    const { driver } = fakeDriver({ wrap: () => wrapped });
    const client = new StoreClient(driver);
    await client.connect();
    await expect(client.run('read', () => Promise.reject(new Error('driver')))).rejects.toBe(wrapped);
    const stale = new StaleOffsetError('fake', 'g', 't', 0, 1, 2);
    await expect(client.run('read', () => Promise.reject(stale))).rejects.toBe(stale);
    const refusal = new AuthenticationError('fake', 'fake:1', 'u', 'bad password', 'fix it');
    await expect(client.run('read', () => Promise.reject(refusal))).rejects.toBe(refusal);
    const userError = new Error('output failed');
    await expect(client.use(() => Promise.reject(userError))).rejects.toBe(userError);
  });

  it("keeps the retriable flag of a DStreamError from a client library when it has no wrap of its own", async () => {
    const { driver } = fakeDriver();
    const client = new StoreClient(driver);
    await client.connect();
    const rejection = client.run('commit', () => Promise.reject(new KafkaError('fenced', { retriable: false })));
    await expect(rejection).rejects.toMatchObject({ constructor: OffsetStoreError, retriable: false, cause: expect.any(KafkaError) });
  });
});
