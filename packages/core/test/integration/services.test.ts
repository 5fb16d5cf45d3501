// Smoke tests for the real services the integration suite runs against (`scripts/services up`).
// A service that is not reachable fails its tests: in CI a missing service is never a skip.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Redis from 'ioredis';
import { KafkaConsumer, Producer, type LibrdKafkaError, type Message } from 'node-rdkafka';
import { createClient, CreateMode, Exception, type Stat } from 'node-zookeeper-client';
import { Client as PgClient } from 'pg';
import { createTopic, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';

describe('scripts/services', () => {
  const script = path.resolve(__dirname, '../../../../scripts/services');
  const services = (...args: string[]) => spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: 60_000 });

  it('refuses an unknown command with one line naming it and the usage, and exits non-zero', () => {
    const result = services('reboot');
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/unknown command 'reboot'.*up \| down \| restart \| status \| env/)]);
  });

  it('refuses an unknown service name in one line naming the services it knows', () => {
    const result = services('up', 'kafak');
    expect(result.status).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('kafak');
    expect(result.stderr).toContain('kafka');
  });

  it('reports every service as up, with its address, once `up` has run', () => {
    const result = services('status');
    expect(result.status).toBe(0);
    for (const name of ['kafka', 'zookeeper', 'redis', 'postgres']) {
      expect(result.stdout).toMatch(new RegExp(`^${name}\\s+up\\b.*127\\.0\\.0\\.1:\\d+`, 'm'));
    }
  });

  it('prints the variables the tests read', () => {
    const result = services('env');
    expect(result.status).toBe(0);
    for (const name of ['DSTREAM_KAFKA_BROKERS', 'DSTREAM_ZK', 'DSTREAM_REDIS_URL', 'DSTREAM_PG_URL']) {
      expect(result.stdout).toMatch(new RegExp(`^export ${name}=\\S+$`, 'm'));
    }
  });
});

describe('Kafka', () => {
  beforeAll(() => requireService('Kafka', services.kafkaBrokers));

  it('returns every message of a 3-partition topic exactly once, in produce order per key', async () => {
    const topic = uniqueName('smoke');
    const partitions = 3;
    const total = 10_000;
    const keys = 100;
    await createTopic(topic, partitions);

    // Value `<key>:<n>` is the n-th message produced with that key.
    const produced = Array.from({ length: total }, (_, i) => {
      const key = `key-${i % keys}`;
      return { key, value: `${key}:${Math.floor(i / keys)}` };
    });

    const producer = new Producer({
      'metadata.broker.list': services.kafkaBrokers,
      dr_cb: true,
      // Idempotence keeps per-partition order even when librdkafka retries a batch.
      'enable.idempotence': true,
      'linger.ms': 5,
    });
    const deliveryErrors: string[] = [];
    let delivered = 0;
    producer.on('delivery-report', (err: LibrdKafkaError | null) => {
      if (err) deliveryErrors.push(err.message);
      delivered++;
    });
    await connectClient(producer);
    producer.setPollInterval(20);
    try {
      for (const { key, value } of produced) producer.produce(topic, null, Buffer.from(value), key);
      await new Promise<void>((resolve, reject) =>
        producer.flush(30_000, (err) => (err ? reject(new Error(`flush failed: ${err.message}`)) : resolve())),
      );
      await waitFor(() => delivered === total, 30_000, `${total} delivery reports (got ${delivered})`);
    } finally {
      await disconnectClient(producer);
    }
    expect(deliveryErrors).toEqual([]);

    const consumer = new KafkaConsumer(
      {
        'metadata.broker.list': services.kafkaBrokers,
        'group.id': uniqueName('smoke-group'),
        'enable.auto.commit': false,
      },
      {},
    );
    const consumed: Message[] = [];
    await connectClient(consumer);
    try {
      consumer.setDefaultConsumeTimeout(200);
      consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
      const deadline = Date.now() + 60_000;
      while (consumed.length < total && Date.now() < deadline) {
        const batch = await new Promise<Message[]>((resolve, reject) =>
          consumer.consume(1000, (err, messages) => (err ? reject(err) : resolve(messages))),
        );
        consumed.push(...batch);
      }
    } finally {
      await disconnectClient(consumer);
    }

    expect(consumed).toHaveLength(total);
    const values = consumed.map((m) => m.value?.toString() ?? '');
    expect(new Set(values).size).toBe(total);
    expect([...values].sort()).toEqual(produced.map((p) => p.value).sort());
    for (const m of consumed) expect(`${m.key?.toString()}:`).toBe(m.value?.toString().replace(/\d+$/, ''));

    const lastOffset = new Map<number, number>();
    const nextSeqOfKey = new Map<string, number>();
    const outOfOrder: string[] = [];
    for (const m of consumed) {
      const previous = lastOffset.get(m.partition) ?? -1;
      if (m.offset <= previous) outOfOrder.push(`partition ${m.partition}: offset ${m.offset} after ${previous}`);
      lastOffset.set(m.partition, m.offset);
      const key = m.key!.toString();
      const seq = Number(m.value!.toString().split(':')[1]);
      const expected = nextSeqOfKey.get(key) ?? 0;
      if (seq !== expected) outOfOrder.push(`key ${key}: message ${seq} where ${expected} was due`);
      nextSeqOfKey.set(key, seq + 1);
    }
    expect(outOfOrder).toEqual([]);
    expect(lastOffset.size).toBe(partitions);
  }, 120_000);
});

describe('Redis', () => {
  beforeAll(() => requireService('Redis', services.redisUrl));

  it('reads back a value it wrote and deletes it', async () => {
    const redis = new Redis(services.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000 });
    await redis.connect();
    try {
      const key = uniqueName('dstream:smoke');
      expect(await redis.set(key, 'v1', 'PX', 60_000)).toBe('OK');
      expect(await redis.get(key)).toBe('v1');
      expect(await redis.del(key)).toBe(1);
      expect(await redis.get(key)).toBeNull();
    } finally {
      await redis.quit();
    }
  }, 30_000);
});

describe('ZooKeeper', () => {
  beforeAll(() => requireService('ZooKeeper', services.zkConnect));

  it('creates, reads, updates with a version check and removes a znode', async () => {
    const zk = createClient(services.zkConnect, { sessionTimeout: 10_000, retries: 0 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ZooKeeper session at ${services.zkConnect} within 10 s`)), 10_000);
      zk.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      zk.connect();
    });
    try {
      const path = `/${uniqueName('dstream-smoke')}`;
      await zkCall<string>((cb) => zk.create(path, Buffer.from('v0'), CreateMode.PERSISTENT, cb));

      const [data, stat] = await zkCall2<Buffer, Stat>((cb) => zk.getData(path, cb));
      expect(data.toString()).toBe('v0');
      expect(stat.version).toBe(0);

      const updated = await zkCall<{ version: number }>((cb) => zk.setData(path, Buffer.from('v1'), 0, cb));
      expect(updated.version).toBe(1);
      // A write with a stale version is refused: this is what compare-and-set offsets rely on.
      await expect(zkCall((cb) => zk.setData(path, Buffer.from('stale'), 0, cb))).rejects.toMatchObject({
        code: Exception.BAD_VERSION,
      });
      const [current] = await zkCall2<Buffer, Stat>((cb) => zk.getData(path, cb));
      expect(current.toString()).toBe('v1');

      await zkCall<void>((cb) => zk.remove(path, 1, (err) => cb(err, undefined)));
      expect(await zkCall((cb) => zk.exists(path, cb))).toBeNull();
    } finally {
      zk.close();
    }
  }, 30_000);
});

describe('PostgreSQL', () => {
  beforeAll(() => requireService('PostgreSQL', services.pgUrl));

  it('inserts rows into a temporary table and selects them back', async () => {
    const pg = new PgClient({ connectionString: services.pgUrl, connectionTimeoutMillis: 5000 });
    await pg.connect();
    try {
      await pg.query('create temporary table smoke (id int primary key, name text not null)');
      await pg.query('insert into smoke (id, name) values ($1, $2), ($3, $4)', [1, 'one', 2, 'two']);
      const { rows } = await pg.query('select id, name from smoke order by id');
      expect(rows).toEqual([
        { id: 1, name: 'one' },
        { id: 2, name: 'two' },
      ]);
    } finally {
      await pg.end();
    }
  }, 30_000);
});

type ZkCallback<T> = (error: Error | Exception | null, result: T) => void;

function zkCall<T>(call: (cb: ZkCallback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => call((error, result) => (error ? reject(error) : resolve(result))));
}

function zkCall2<A, B>(call: (cb: (error: Error | Exception | null, a: A, b: B) => void) => void): Promise<[A, B]> {
  return new Promise((resolve, reject) => call((error, a, b) => (error ? reject(error) : resolve([a, b]))));
}

function connectClient(client: Producer | KafkaConsumer): Promise<void> {
  return new Promise((resolve, reject) =>
    client.connect({ timeout: 10_000 }, (err) =>
      err ? reject(new Error(`connecting to Kafka at ${services.kafkaBrokers} failed: ${err.message}`)) : resolve(),
    ),
  );
}

function disconnectClient(client: Producer | KafkaConsumer): Promise<void> {
  return new Promise((resolve) => client.disconnect(() => resolve()));
}
