import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, ConsumerStrategies, KafkaUtils, OffsetRange, OffsetStoreError, silentLogger, StaleOffsetError, StreamingContext } from '@dstream/core';
import { describeOffsetStoreContract } from '@dstream/core/testing';
import { groupRowKey, HBaseOffsetStore, historyPrefix } from '@dstream/offsets-hbase';
import { requireService, services } from '@dstream/test-utils';

const REST = services.hbaseRest;
const REPO = join(__dirname, '../../../..');
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
/** Every run writes to its own table, so runs never see each other's rows. */
const TABLE = `it_${run}`;

beforeAll(() => requireService('HBase', REST), 30_000);

async function connectedStore(options: { table?: string; historySize?: number } = {}): Promise<HBaseOffsetStore> {
  const store = new HBaseOffsetStore({ url: REST, table: options.table ?? TABLE, historySize: options.historySize ?? 5 });
  await store.connect();
  return store;
}

/** A cell as HBase's REST gateway returns it (null: no such row or cell), read without the store. */
async function rawCell(table: string, row: string, column: string): Promise<string | null> {
  const response = await fetch(`${REST}/dstream:${table}/${encodeURIComponent(row)}/${encodeURIComponent(column)}`, {
    headers: { Accept: 'application/json' },
  });
  if (response.status === 404) return null;
  const body = (await response.json()) as { Row: Array<{ Cell: Array<{ $: string }> }> };
  return Buffer.from(body.Row[0].Cell[0].$, 'base64').toString('utf8');
}

/** Writes a cell directly through the gateway, as another process or an operator would. */
async function rawPut(table: string, row: string, column: string, value: string): Promise<void> {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const response = await fetch(`${REST}/dstream:${table}/${encodeURIComponent(row)}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ Row: [{ key: b64(row), Cell: [{ column: b64(column), $: b64(value) }] }] }),
  });
  expect(response.status).toBe(200);
}

/** The keys of the rows that start with `prefix`, read with the gateway's row-key glob. */
async function rawRowKeys(table: string, prefix: string): Promise<string[]> {
  const response = await fetch(`${REST}/dstream:${table}/${encodeURIComponent(prefix)}*`, { headers: { Accept: 'application/json' } });
  if (response.status === 404) return [];
  const body = (await response.json()) as { Row: Array<{ key: string }> };
  return body.Row.map(({ key }) => Buffer.from(key, 'base64').toString('utf8'));
}

describeOffsetStoreContract('HBaseOffsetStore', {
  create: () => connectedStore(),
  // Only a gateway that `scripts/services` runs can be restarted; an external one is left alone.
  ...(process.env.DSTREAM_HBASE_REST === undefined
    ? {
        async restartServer() {
          const servicesScript = join(REPO, 'scripts/services');
          await promisify(execFile)('bash', [servicesScript, 'down', 'hbase'], { cwd: REPO });
          await promisify(execFile)('bash', [servicesScript, 'up', 'hbase'], { cwd: REPO });
        },
      }
    : {}),
}, { describe, it, expect });

describe('HBaseOffsetStore on a real HBase', () => {
  const opened: HBaseOffsetStore[] = [];
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((store) => store.close()));
  });
  const open = async (options?: { table?: string; historySize?: number }) => {
    const store = await connectedStore(options);
    opened.push(store);
    return store;
  };

  it('creates its namespace, table and column family on first use', async () => {
    const table = `created_${run}`;
    await open({ table });
    const response = await fetch(`${REST}/dstream:${table}/schema`, { headers: { Accept: 'application/json' } });
    expect(response.status).toBe(200);
    const schema = (await response.json()) as { ColumnSchema: Array<{ name: string }> };
    expect(schema.ColumnSchema.map(({ name }) => name)).toEqual(['o']);
  });

  it('keeps the latest offsets in one row per group with a version that every commit bumps', async () => {
    const store = await open();
    await store.commit('layout', [
      { range: OffsetRange.create('orders', 0, 0, 42), expectedOffset: null },
      { range: OffsetRange.create('payments', 1, 0, 7), expectedOffset: null },
    ]);
    await store.commit('layout', [{ range: OffsetRange.create('orders', 0, 42, 50), expectedOffset: 42 }]);

    expect(await rawCell(TABLE, 'group:layout', 'o:orders:0')).toBe('50');
    expect(await rawCell(TABLE, 'group:layout', 'o:payments:1')).toBe('7');
    expect(await rawCell(TABLE, 'group:layout', 'o:version')).toBe('2');
  });

  it('refuses a stale commit after another process moved an offset, and changes nothing', async () => {
    const store = await open();
    await store.commit('race', [
      { range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null },
      { range: OffsetRange.create('orders', 1, 0, 10), expectedOffset: null },
    ]);
    await rawPut(TABLE, groupRowKey('race'), 'o:orders:0', '30');

    const commit = store.commit('race', [
      { range: OffsetRange.create('orders', 0, 10, 20), expectedOffset: 10 },
      { range: OffsetRange.create('orders', 1, 10, 20), expectedOffset: 10 },
    ]);
    await expect(commit).rejects.toBeInstanceOf(StaleOffsetError);
    await expect(commit).rejects.toMatchObject({ topic: 'orders', partition: 0, expectedOffset: 10, actualOffset: 30 });
    const loaded = await store.load('race', [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }]);
    expect(Object.fromEntries(loaded)).toEqual({ 'orders:0': 30, 'orders:1': 10 });
  });

  it('refuses the check-and-put of a writer whose version was bumped between its read and its write', async () => {
    const store = await open();
    await store.commit('between', [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }]);
    // The other writer's commit lands between this store's read and its check-and-put.
    const other = await open();
    const internals = store as unknown as { readGroupRow(group: string): Promise<unknown> };
    const read = internals.readGroupRow.bind(store);
    let raced = false;
    internals.readGroupRow = async (group: string) => {
      const row = await read(group);
      if (!raced) {
        raced = true;
        await other.commit('between', [{ range: OffsetRange.create('orders', 0, 10, 15), expectedOffset: 10 }]);
      }
      return row;
    };

    const commit = store.commit('between', [{ range: OffsetRange.create('orders', 0, 10, 20), expectedOffset: 10 }]);
    await expect(commit).rejects.toMatchObject({ name: 'StaleOffsetError', expectedOffset: 10, actualOffset: 15 });
    expect((await other.load('between', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(15);
  });

  it('keeps <topic>:<group>:<batchTime> history rows up to historySize and rewinds to one', async () => {
    const store = await open({ historySize: 3 });
    let from: number | null = null;
    for (const until of [10, 20, 30, 40, 50, 60]) {
      await store.commit('rewind', [
        { range: OffsetRange.create('orders', 0, from ?? 0, until), expectedOffset: from },
        { range: OffsetRange.create('orders', 1, from ?? 0, until + 1), expectedOffset: from === null ? null : from + 1 },
      ]);
      from = until;
    }
    const history = await store.history('rewind', 'orders');
    expect(history.map(({ offsets }) => offsets.get('orders:0'))).toEqual([60, 50, 40]);
    expect(history[0].batchTime).toBeGreaterThan(history[1].batchTime);
    // The rows themselves are where the layout says, with one column per partition.
    const row = `${historyPrefix('rewind', 'orders')}${String(history[1].batchTime).padStart(13, '0')}`;
    expect(row).toMatch(/^orders:rewind:\d{13}$/);
    expect(await rawCell(TABLE, row, 'o:orders:1')).toBe('51');
    // Rows beyond historySize are deleted, not only hidden by history().
    expect(await rawRowKeys(TABLE, historyPrefix('rewind', 'orders'))).toHaveLength(3);

    await store.rewind('rewind', 'orders', history[2].batchTime);
    const loaded = await store.load('rewind', [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }]);
    expect(Object.fromEntries(loaded)).toEqual({ 'orders:0': 40, 'orders:1': 41 });
    // A job resuming from the rewound offsets commits on top of them.
    await store.commit('rewind', [{ range: OffsetRange.create('orders', 0, 40, 45), expectedOffset: 40 }]);
    await expect(store.rewind('rewind', 'orders', 1)).rejects.toThrow('no history row orders:rewind:0000000000001');
  });

  it('keeps groups whose names hold ":" apart in the row keys', async () => {
    const store = await open();
    await store.commit('a:b', [{ range: OffsetRange.create('orders', 0, 0, 5), expectedOffset: null }]);
    await store.commit('a', [{ range: OffsetRange.create('orders', 0, 0, 9), expectedOffset: null }]);
    expect((await store.load('a:b', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(5);
    expect(groupRowKey('a:b')).toBe('group:a%3Ab');
    expect((await store.history('a', 'orders')).map(({ offsets }) => offsets.get('orders:0'))).toEqual([9]);
  });

  it('reports a cell that is not an offset with its row, qualifier and value', async () => {
    const store = await open();
    await rawPut(TABLE, groupRowKey('corrupt'), 'o:orders:0', 'twelve');
    const load = store.load('corrupt', [{ topic: 'orders', partition: 0 }]);
    await expect(load).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(load).rejects.toThrow('cell orders:0 of row group:corrupt');
  });

  it('refuses a column family the existing table does not have', async () => {
    const store = new HBaseOffsetStore({ url: REST, table: TABLE, columnFamily: 'x' });
    await expect(store.connect()).rejects.toBeInstanceOf(ConfigError);
  });

  it('is refused for exactly-once without idempotentOutput, naming the stores that can', async () => {
    const store = await open();
    const ssc = new StreamingContext({ appName: `hbase-eos-${run}`, batchIntervalMs: 200, stopOnSignals: false, logger: silentLogger });
    const options = {
      kafkaParams: { 'bootstrap.servers': services.kafkaBrokers, 'group.id': `hbase-eos-${run}` },
      strategy: ConsumerStrategies.Subscribe(['orders']),
      offsetStore: store,
      delivery: 'exactly-once' as const,
      logger: silentLogger,
    };
    expect(() => KafkaUtils.createDirectStream(ssc, options)).toThrow(ConfigError);
    expect(() => KafkaUtils.createDirectStream(ssc, options)).toThrow(/store "hbase" has none.*PostgresOffsetStore, RedisOffsetStore/);
    expect(() => KafkaUtils.createDirectStream(ssc, { ...options, idempotentOutput: true })).not.toThrow();
  });

  it('fails to connect to an address where no gateway listens, retriably and within the request timeout', async () => {
    const store = new HBaseOffsetStore({ url: 'http://127.0.0.1:1', requestTimeoutMs: 1500 });
    const connect = store.connect();
    await expect(connect).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(connect).rejects.toMatchObject({ retriable: true });
    await expect(connect).rejects.toThrow('http://127.0.0.1:1');
  });
});
