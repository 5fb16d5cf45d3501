import { execFile } from 'node:child_process';
import path from 'node:path';
import { createClient } from 'node-zookeeper-client';
import { localServiceAddresses, services } from '@dstream/test-utils';
import type { TcpProxy } from './TcpProxy';

const ROOT = path.resolve(__dirname, '../..');

/** The services `scripts/services` runs, by its names for them. */
export type ServiceName = 'kafka' | 'zookeeper' | 'redis' | 'postgres';

const addressOf: Record<ServiceName, { variable: string; configured: string; local: string }> = {
  kafka: { variable: 'DSTREAM_KAFKA_BROKERS', configured: services.kafkaBrokers, local: localServiceAddresses.kafkaBrokers },
  zookeeper: { variable: 'DSTREAM_ZK', configured: services.zkConnect, local: localServiceAddresses.zkConnect },
  redis: { variable: 'DSTREAM_REDIS_URL', configured: services.redisUrl, local: localServiceAddresses.redisUrl },
  postgres: { variable: 'DSTREAM_PG_URL', configured: services.pgUrl, local: localServiceAddresses.pgUrl },
};

/**
 * Restarts one service through `scripts/services restart` (SIGKILL, or PostgreSQL's immediate
 * shutdown, with `kill`; Redis always keeps its data) and resolves when it answers again, with
 * how long it was away. Only a server that `scripts/services up` started from `DSTREAM_RUN_DIR`
 * can be restarted: run the chaos scenarios against a private set (other DSTREAM_*_PORT and
 * DSTREAM_RUN_DIR, see docs/reliability.md), never against services other people use.
 */
export async function restartService(service: ServiceName, options: { kill: boolean }): Promise<number> {
  const { variable, configured, local } = addressOf[service];
  if (configured !== local) {
    throw new Error(
      `${variable}=${configured} is not the server scripts/services starts (${local}), so the chaos runner cannot restart it; ` +
        `unset ${variable} and set DSTREAM_*_PORT and DSTREAM_RUN_DIR for a private set of services`,
    );
  }
  // scripts/services takes a set address variable to mean an external server it must not touch.
  const env = { ...process.env };
  delete env[variable];
  const started = Date.now();
  await new Promise<void>((resolve, reject) =>
    execFile(
      'bash',
      [path.join(ROOT, 'scripts/services'), 'restart', ...(options.kill ? ['--kill'] : []), service],
      { cwd: ROOT, env, timeout: 180_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`scripts/services restart ${service} failed: ${error.message}\n${stdout}${stderr}`)) : resolve(),
    ),
  );
  return Date.now() - started;
}

/** A ZooKeeper session as the job prints it: id and password in hex. */
export interface ZooKeeperSession {
  readonly id: string;
  readonly password: string;
}

/**
 * Ends a job's ZooKeeper session for certain: cuts the proxy the job connects through (so its
 * client cannot take the session back), connects directly with the session's id and password and
 * closes that connection (ZooKeeper then ends the session), and lets the job reconnect: its
 * client finds the session expired and the store has to open a new one.
 */
export async function expireZooKeeperSession(proxy: TcpProxy, session: ZooKeeperSession): Promise<void> {
  proxy.cut();
  try {
    // node-zookeeper-client accepts an existing session's id and password, untyped.
    const options: Record<string, unknown> = {
      sessionId: Buffer.from(session.id, 'hex'),
      sessionPassword: Buffer.from(session.password, 'hex'),
    };
    const thief = createClient(services.zkConnect, options);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ZooKeeper session at ${services.zkConnect} within 10 s`)), 10_000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      // Already expired (the job's client lost it by itself) is as good as ended.
      thief.once('connected', done);
      thief.once('expired', done);
      thief.connect();
    });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      thief.once('disconnected', () => {
        clearTimeout(timer);
        resolve();
      });
      thief.close();
    });
  } finally {
    proxy.restore();
  }
}
