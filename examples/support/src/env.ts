/**
 * Where the examples find the services: the variables `scripts/services env` prints, with the
 * loopback addresses `scripts/services up` listens on as defaults.
 */

/**
 * The Kafka bootstrap servers: `DSTREAM_KAFKA_BROKERS`, else `127.0.0.1:9092`.
 *
 * @example
 * kafkaParams: { 'bootstrap.servers': brokersFromEnv(), 'group.id': 'wordcount' }
 */
export function brokersFromEnv(): string {
  return process.env.DSTREAM_KAFKA_BROKERS ?? '127.0.0.1:9092';
}

/**
 * The Redis URL: `DSTREAM_REDIS_URL`, else `redis://127.0.0.1:6379`.
 *
 * @example
 * new RedisOffsetStore({ url: redisUrlFromEnv() });
 */
export function redisUrlFromEnv(): string {
  return process.env.DSTREAM_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/**
 * The ZooKeeper connection string: `DSTREAM_ZK`, else `127.0.0.1:2181`.
 *
 * @example
 * new ZooKeeperOffsetStore({ connectionString: zkFromEnv() });
 */
export function zkFromEnv(): string {
  return process.env.DSTREAM_ZK ?? '127.0.0.1:2181';
}

/** The URL of HBase's REST gateway: `DSTREAM_HBASE_REST`, else `http://127.0.0.1:18080` (what `scripts/services up` runs). */
export function hbaseRestFromEnv(): string {
  return process.env.DSTREAM_HBASE_REST ?? 'http://127.0.0.1:18080';
}

/**
 * The PostgreSQL connection URL: `DSTREAM_PG_URL`, else `postgres://postgres@127.0.0.1:5432/dstream`
 * (the database `scripts/services up` creates).
 *
 * @example
 * new PostgresOffsetStore({ connectionString: pgUrlFromEnv() });
 */
export function pgUrlFromEnv(): string {
  return process.env.DSTREAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/dstream';
}
