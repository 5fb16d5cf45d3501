// A Redis outage in the middle of an exactly-once job: the job waits it out within
// storeOutageBudgetMs and goes on, counting every record once.
import { ConsumerStrategies, KafkaUtils, StreamingContext, silentLogger } from '@dstream/core';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { Redis } from 'ioredis';
import { createTopic, produce, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';
import { PrivateRedisServer } from './privateRedisServer';

jest.setTimeout(120_000);

beforeAll(() => requireService('Kafka', services.kafkaBrokers));

describe('an exactly-once job on Redis', () => {
  let server: PrivateRedisServer;
  beforeAll(async () => {
    server = await PrivateRedisServer.start();
  });
  afterAll(async () => {
    await server.destroy();
  });

  it('waits out a Redis outage of several seconds, logging each attempt, and counts every record once', async () => {
    const topic = uniqueName('outage');
    const group = uniqueName('group');
    const countsKey = `counts:${group}`;
    await createTopic(topic, 2);
    await produce(topic, [0, 1], 500);
    const warnings: string[] = [];
    const ssc = new StreamingContext({ appName: uniqueName('outage'), batchIntervalMs: 200, stopOnSignals: false, logger: silentLogger });
    const stream = KafkaUtils.createDirectStream(ssc, {
      kafkaParams: { 'bootstrap.servers': services.kafkaBrokers, 'group.id': group },
      strategy: ConsumerStrategies.Subscribe([topic]),
      offsetStore: new RedisOffsetStore({ url: server.url }),
      delivery: 'exactly-once',
      startingOffsets: 'earliest',
      valueDeserializer: 'string',
      maxRatePerPartition: 500,
      logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
    });
    stream.foreachBatch((records, batch) => {
      for (const record of records) batch.transaction.hincrby(countsKey, String(record.value), 1);
    });
    const reader = () => new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    const committed = async (): Promise<number> => {
      const redis = reader();
      try {
        await redis.connect();
        return await redis.hlen(countsKey);
      } catch {
        return -1;
      } finally {
        redis.disconnect();
      }
    };
    await ssc.start();
    try {
      await waitFor(async () => (await committed()) > 0, 30_000, 'the first committed batch');
      // Down for longer than the old five-retry window (~3.5 s), while records keep arriving.
      await server.kill();
      await produce(topic, [0, 1], 500, 500);
      await new Promise((resolve) => setTimeout(resolve, 8000));
      expect(ssc.state).toBe('active');
      await server.restart();
      await waitFor(async () => (await committed()) === 2000, 60_000, 'every record counted after the outage');
      expect(ssc.state).toBe('active');
    } finally {
      await ssc.stop({ graceful: true });
    }
    expect(warnings.some((w) => /offset store redis failed committing batch \d+ \(attempt \d+\); retrying in \d+ ms, for up to 60000 ms/.test(w))).toBe(
      true,
    );
    const redis = reader();
    await redis.connect();
    try {
      const counts = await redis.hgetall(countsKey);
      expect(Object.values(counts).filter((count) => count !== '1')).toEqual([]);
      expect(Object.keys(counts).sort()).toEqual(
        [0, 1].flatMap((p) => Array.from({ length: 1000 }, (_, i) => `${p}:${i}`)).sort(),
      );
    } finally {
      redis.disconnect();
    }
  });
});
