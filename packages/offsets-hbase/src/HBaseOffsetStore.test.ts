import { inspect } from 'node:util';
import { ConfigError, OffsetRange, OffsetStoreError, StaleOffsetError } from '@dstream/core';
import { HBaseOffsetStore } from './HBaseOffsetStore';
import { encodeKeyPart, groupRowKey, historyPrefix } from './hbaseRowKeys';

const URL = 'http://hbase-rest.test:8080';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const text = (base64: string) => Buffer.from(base64, 'base64').toString('utf8');

/**
 * A gateway in memory, answering the REST calls the store makes (schema read, row get, put,
 * check-and-put) with HBase's statuses. `loseNextPutAnswer` applies the next check-and-put and then
 * fails the request as a dropped connection would.
 */
class FakeGateway {
  readonly rows = new Map<string, Map<string, string>>();
  loseNextPutAnswer = false;
  failNextPutBeforeApplying = false;

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new globalThis.URL(String(input));
    const [, table, rawKey] = url.pathname.split('/');
    const key = decodeURIComponent(rawKey ?? '');
    if (table !== 'dstream:offsets') return new Response('Not found', { status: 404 });
    if (key === 'schema') return Response.json({ name: table, ColumnSchema: [{ name: 'o' }] });
    if (init?.method === 'GET' || init?.method === undefined) {
      const row = this.rows.get(key);
      if (row === undefined) return new Response('Not found', { status: 404 });
      return Response.json({ Row: [{ key: b64(key), Cell: [...row].map(([column, value]) => ({ column: b64(column), $: b64(value) })) }] });
    }
    const body = JSON.parse(String(init.body)) as { Row: Array<{ Cell: Array<{ column: string; $: string }> }> };
    const cells = body.Row[0].Cell.map((cell) => [text(cell.column), text(cell.$)] as const);
    if (url.searchParams.get('check') === 'put') {
      if (this.failNextPutBeforeApplying) {
        this.failNextPutBeforeApplying = false;
        throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
      }
      const [checkColumn, checkValue] = cells[cells.length - 1];
      const current = this.rows.get(key)?.get(checkColumn) ?? '';
      if (current !== checkValue) return new Response(null, { status: 304 });
      this.put(key, cells.slice(0, -1));
      if (this.loseNextPutAnswer) {
        this.loseNextPutAnswer = false;
        throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
      }
      return new Response(null, { status: 200 });
    }
    this.put(key, cells);
    return new Response(null, { status: 200 });
  };

  private put(key: string, cells: ReadonlyArray<readonly [string, string]>): void {
    const row = this.rows.get(key) ?? new Map<string, string>();
    for (const [column, value] of cells) row.set(column, value);
    this.rows.set(key, row);
  }
}

describe('HBaseOffsetStore', () => {
  const realFetch = globalThis.fetch;
  let gateway: FakeGateway;
  beforeEach(() => {
    gateway = new FakeGateway();
    globalThis.fetch = gateway.fetch as typeof fetch;
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
  });

  const connected = async () => {
    const store = new HBaseOffsetStore({ url: URL, historySize: 0 });
    await store.connect();
    return store;
  };

  it.each([
    [{ url: 'hbase-rest:8080' }, 'url'],
    [{ url: 'http://h:8080/?x=1' }, 'url'],
    [{ url: URL, namespace: 'a:b' }, 'namespace'],
    [{ url: URL, table: '' }, 'table'],
    [{ url: URL, columnFamily: '.o' }, 'columnFamily'],
    [{ url: URL, historySize: -1 }, 'historySize'],
    [{ url: URL, requestTimeoutMs: 0 }, 'requestTimeoutMs'],
  ])('refuses %j with a ConfigError naming %s', (options, option) => {
    expect(() => new HBaseOffsetStore(options)).toThrow(ConfigError);
    expect(() => new HBaseOffsetStore(options)).toThrow(new RegExp(`^${option} `));
  });

  it('encodes every character outside [A-Za-z0-9._-] of a group in its row keys', () => {
    expect(encodeKeyPart('orders.v2_x-1')).toBe('orders.v2_x-1');
    expect(encodeKeyPart('a:b/c*%é')).toBe('a%3Ab%2Fc%2A%25%C3%A9');
    expect(groupRowKey('team:orders')).toBe('group:team%3Aorders');
    expect(historyPrefix('team:orders', 'orders')).toBe('orders:team%3Aorders:');
  });

  it('shows its URL, table and settings when inspected', () => {
    const store = new HBaseOffsetStore({ url: `${URL}/`, table: 'jobs' });
    expect(inspect(store, { breakLength: Infinity })).toBe(
      "HBaseOffsetStore { url: 'http://hbase-rest.test:8080', table: 'dstream:jobs', columnFamily: 'o', historySize: 100, state: 'new' }",
    );
  });

  it('refuses to be used before connect', async () => {
    const store = new HBaseOffsetStore({ url: URL });
    await expect(store.load('g', [{ topic: 'orders', partition: 0 }])).rejects.toThrow('await connect() first');
  });

  it('writes all partitions of a commit with one check-and-put on the version it read', async () => {
    const store = await connected();
    await store.commit('g', [
      { range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null },
      { range: OffsetRange.create('payments', 1, 0, 4), expectedOffset: null },
    ]);
    const row = gateway.rows.get('group:g')!;
    expect(Object.fromEntries([...row].filter(([column]) => column !== 'o:commit' && column !== 'o:batchTime'))).toEqual({
      'o:orders:0': '10',
      'o:payments:1': '4',
      'o:version': '1',
    });
  });

  it('counts a check-and-put whose answer was lost as committed when the row carries its commit id', async () => {
    const store = await connected();
    await store.commit('g', [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }]);
    gateway.loseNextPutAnswer = true;

    await store.commit('g', [{ range: OffsetRange.create('orders', 0, 10, 20), expectedOffset: 10 }]);
    expect((await store.load('g', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(20);
    expect(gateway.rows.get('group:g')!.get('o:version')).toBe('2');
  });

  it('reports a check-and-put that never reached the gateway as a retriable error that changed nothing', async () => {
    const store = await connected();
    await store.commit('g', [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }]);
    gateway.failNextPutBeforeApplying = true;

    const commit = store.commit('g', [{ range: OffsetRange.create('orders', 0, 10, 20), expectedOffset: 10 }]);
    await expect(commit).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(commit).rejects.toMatchObject({ retriable: true });
    expect(gateway.rows.get('group:g')!.get('o:orders:0')).toBe('10');
  });

  it('reports a commit from an offset another writer moved as stale without writing', async () => {
    const store = await connected();
    await store.commit('g', [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }]);
    gateway.rows.get('group:g')!.set('o:orders:0', '30');

    const commit = store.commit('g', [{ range: OffsetRange.create('orders', 0, 10, 20), expectedOffset: 10 }]);
    await expect(commit).rejects.toBeInstanceOf(StaleOffsetError);
    expect(gateway.rows.get('group:g')!.get('o:version')).toBe('1');
  });

  it('refuses a topic name Kafka would refuse', async () => {
    const store = await connected();
    await expect(store.load('g', [{ topic: 'a:b', partition: 0 }])).rejects.toBeInstanceOf(ConfigError);
  });
});
