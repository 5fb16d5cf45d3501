/**
 * Where the benchmarks find the services: the variables `scripts/services env` prints (which
 * `npm run bench` passes on), with the loopback addresses `scripts/services up` listens on as
 * defaults.
 */
export const services = {
  kafkaBrokers: process.env.DSTREAM_KAFKA_BROKERS ?? '127.0.0.1:9092',
  redisUrl: process.env.DSTREAM_REDIS_URL ?? 'redis://127.0.0.1:6379',
  zkConnect: process.env.DSTREAM_ZK ?? '127.0.0.1:2181',
  pgUrl: process.env.DSTREAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/dstream',
  hbaseRest: process.env.DSTREAM_HBASE_REST ?? 'http://127.0.0.1:18080',
} as const;
