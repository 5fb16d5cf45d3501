/**
 * Where the examples find the services: the variables `scripts/services env` prints, with the
 * loopback addresses `scripts/services up` listens on as defaults (the tests' `services`).
 */
import { services } from '@dstream/test-utils';

/**
 * The Kafka bootstrap servers: `DSTREAM_KAFKA_BROKERS`, else `127.0.0.1:9092`.
 *
 * @example
 * kafkaParams: { 'bootstrap.servers': brokersFromEnv(), 'group.id': 'wordcount' }
 */
export function brokersFromEnv(): string {
  return services.kafkaBrokers;
}

/**
 * The Redis URL: `DSTREAM_REDIS_URL`, else `redis://127.0.0.1:6379`.
 *
 * @example
 * new RedisOffsetStore({ url: redisUrlFromEnv() });
 */
export function redisUrlFromEnv(): string {
  return services.redisUrl;
}

/**
 * The ZooKeeper connection string: `DSTREAM_ZK`, else `127.0.0.1:2181`.
 *
 * @example
 * new ZooKeeperOffsetStore({ connectionString: zkFromEnv() });
 */
export function zkFromEnv(): string {
  return services.zkConnect;
}

/** The URL of HBase's REST gateway: `DSTREAM_HBASE_REST`, else `http://127.0.0.1:18080` (what `scripts/services up` runs). */
export function hbaseRestFromEnv(): string {
  return services.hbaseRest;
}

/**
 * The PostgreSQL connection URL: `DSTREAM_PG_URL`, else `postgres://postgres@127.0.0.1:5432/dstream`
 * (the database `scripts/services up` creates).
 *
 * @example
 * new PostgresOffsetStore({ connectionString: pgUrlFromEnv() });
 */
export function pgUrlFromEnv(): string {
  return services.pgUrl;
}
