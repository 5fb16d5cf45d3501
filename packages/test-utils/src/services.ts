// Where tests, examples' tests and benchmarks find the services, and the check that they are up.
import { connect } from 'node:net';

const port = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

/**
 * Where `scripts/services up` starts each service: loopback, on the ports its DSTREAM_*_PORT
 * settings name (9092, 6379, 2181, 5432 unless set).
 */
export const localServiceAddresses = {
  kafkaBrokers: `127.0.0.1:${port('DSTREAM_KAFKA_PORT', 9092)}`,
  redisUrl: `redis://127.0.0.1:${port('DSTREAM_REDIS_PORT', 6379)}`,
  zkConnect: `127.0.0.1:${port('DSTREAM_ZK_PORT', 2181)}`,
  pgUrl: `postgres://postgres@127.0.0.1:${port('DSTREAM_PG_PORT', 5432)}/dstream`,
} as const;

/**
 * Where the tests find the real services: the variables `scripts/services env` prints, with
 * defaults matching what `scripts/services up` starts (loopback only).
 */
export const services = {
  kafkaBrokers: process.env.DSTREAM_KAFKA_BROKERS ?? localServiceAddresses.kafkaBrokers,
  redisUrl: process.env.DSTREAM_REDIS_URL ?? localServiceAddresses.redisUrl,
  zkConnect: process.env.DSTREAM_ZK ?? localServiceAddresses.zkConnect,
  pgUrl: process.env.DSTREAM_PG_URL ?? localServiceAddresses.pgUrl,
  hbaseRest: process.env.DSTREAM_HBASE_REST ?? 'http://127.0.0.1:18080',
} as const;

/**
 * The broker listener that asks for SASL/PLAIN credentials (`scripts/services up` opens it on 9094
 * beside the plaintext 9092) and its test account.
 */
export const saslListener = {
  brokers: process.env.DSTREAM_KAFKA_SASL_BROKERS ?? `127.0.0.1:${port('DSTREAM_KAFKA_SASL_PORT', 9094)}`,
  username: process.env.DSTREAM_KAFKA_SASL_USER ?? 'dstream',
  password: process.env.DSTREAM_KAFKA_SASL_PASSWORD ?? 'dstream-test-password',
} as const;

export type ServiceName = 'Kafka' | 'Redis' | 'ZooKeeper' | 'PostgreSQL' | 'HBase';

const envVarOf: Record<ServiceName, string> = {
  Kafka: 'DSTREAM_KAFKA_BROKERS',
  Redis: 'DSTREAM_REDIS_URL',
  ZooKeeper: 'DSTREAM_ZK',
  PostgreSQL: 'DSTREAM_PG_URL',
  HBase: 'DSTREAM_HBASE_REST',
};

/** The first `host:port` of a broker list, ZooKeeper connect string or URL. */
export function hostPortOf(address: string): { host: string; port: number } {
  const first = address.replace(/^[a-z]+:\/\//, '').split(',')[0].replace(/^.*@/, '').split('/')[0];
  const colon = first.lastIndexOf(':');
  return { host: first.slice(0, colon), port: Number(first.slice(colon + 1)) };
}

/**
 * Fails (never skips) when a service does not accept TCP connections, with a message that
 * says how to start it: in CI a missing service must fail the run.
 *
 * @example
 * beforeAll(() => requireService('Redis', services.redisUrl));
 */
export async function requireService(service: ServiceName, address: string, timeoutMs = 3000): Promise<void> {
  const { host, port } = hostPortOf(address);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (reason: string) => {
      socket.destroy();
      reject(
        new Error(
          `${service} is not reachable at ${host}:${port} (${reason}); ` +
            `start it with \`scripts/services up\` or set ${envVarOf[service]} to a running one`,
        ),
      );
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}
