import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@dstream/core';
import type { OffsetStore } from '@dstream/core';
import { CheckpointOffsetStore } from '@dstream/offsets-checkpoint';
import { HBaseOffsetStore } from '@dstream/offsets-hbase';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import { ZooKeeperOffsetStore } from '@dstream/offsets-zookeeper';

/** The kinds of store a URL can name, by scheme. */
export type StoreKind = 'kafka' | 'redis' | 'zookeeper' | 'hbase' | 'postgres' | 'checkpoint';

/** A store named by URL: what it is, how to print it, and how to build it. */
export interface StoreLocation {
  readonly kind: StoreKind;
  /** The URL with any password replaced by `***`: the only form ever printed. */
  readonly display: string;
  /** Secrets in the URL, scrubbed from every message the CLI prints. */
  readonly secrets: readonly string[];
  /** For `kafka://`: the brokers that keep the offsets. */
  readonly brokers?: string;
  /**
   * Builds the store. `mustExist`: a checkpoint directory that does not exist is an error
   * instead of being created (reads must not invent an empty store out of a typo). `timeoutMs`
   * bounds connecting and, where the store has such a setting, each request.
   */
  create(options: { mustExist: boolean; timeoutMs: number }): OffsetStore;
}

const SCHEMES = 'kafka://host:port, redis://[:password@]host:port[/db], zookeeper://host:port[/chroot], hbase://rest-host:port, ' +
  'postgres://user[:password]@host:port/database or file:///path/to/checkpoints';

/** Replaces the password of a URL-like string with `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@]*)@/i, (_, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

/** Every secret in `secrets` replaced by `***` in `text`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    result = result.split(secret).join('***');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) result = result.split(encoded).join('***');
  }
  return result;
}

/**
 * Parses a store URL given as `flag` (`--store`, `--from`, `--to`) into a `StoreLocation`.
 * Store options travel as query parameters: `keyPrefix` (Redis), `root` (ZooKeeper), `namespace`,
 * `table` and `columnFamily` (HBase), `schema` and `table` (PostgreSQL), `retain` (checkpoint).
 * `hbase://host:port` names HBase's REST gateway (`hbase+https://` for one behind TLS).
 *
 * @example
 * parseStoreUrl('--store', 'redis://:s3cret@127.0.0.1:6379/0').display; // "redis://:***@127.0.0.1:6379/0"
 */
export function parseStoreUrl(flag: string, value: string): StoreLocation {
  // A URL holds one host; Kafka and ZooKeeper take a list (`h1:9092,h2:9092`), kept raw in `hosts`.
  const [, scheme = '', hosts = '', rest = ''] = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i.exec(value) ?? [];
  let url: URL;
  try {
    url = new URL(hosts.includes(',') ? `${scheme}${hosts.slice(0, hosts.indexOf(','))}${rest}` : value);
  } catch {
    throw new ConfigError(flag, redactUrl(value), 'must be a store URL', `Pass one of ${SCHEMES}.`);
  }
  const display = redactUrl(value);
  const password = url.password === '' ? [] : [decodeURIComponent(url.password), url.password];
  const params = url.searchParams;
  const allowOnly = (names: readonly string[]) => {
    for (const name of params.keys()) {
      if (!names.includes(name)) {
        throw new ConfigError(
          flag,
          display,
          `has an unknown query parameter "${name}"`,
          names.length === 0 ? 'Remove the query string.' : `Use only ${names.join(', ')}.`,
        );
      }
    }
  };
  const requireHost = (example: string) => {
    if (url.host === '') throw new ConfigError(flag, display, 'must name a host and port', `Pass e.g. ${example}.`);
  };
  switch (url.protocol) {
    case 'kafka:': {
      allowOnly([]);
      requireHost('kafka://127.0.0.1:9092');
      const brokers = hosts;
      return {
        kind: 'kafka',
        display,
        secrets: password,
        brokers,
        create: ({ timeoutMs }) => new KafkaOffsetStore({ brokers, requestTimeoutMs: timeoutMs }),
      };
    }
    case 'redis:':
    case 'rediss:': {
      allowOnly(['keyPrefix']);
      requireHost('redis://127.0.0.1:6379');
      const keyPrefix = params.get('keyPrefix') ?? undefined;
      const plain = new URL(value);
      plain.search = '';
      return {
        kind: 'redis',
        display,
        secrets: password,
        create: ({ timeoutMs }) => new RedisOffsetStore({ url: plain.toString(), keyPrefix, connectTimeoutMs: timeoutMs }),
      };
    }
    case 'zookeeper:':
    case 'zk:': {
      allowOnly(['root']);
      requireHost('zookeeper://127.0.0.1:2181');
      const chroot = url.pathname === '/' ? '' : url.pathname;
      const connectionString = `${hosts}${chroot}`;
      const root = params.get('root') ?? undefined;
      return {
        kind: 'zookeeper',
        display,
        secrets: password,
        create: ({ timeoutMs }) => new ZooKeeperOffsetStore({ connectionString, root, connectTimeoutMs: timeoutMs }),
      };
    }
    case 'hbase:':
    case 'hbase+https:': {
      allowOnly(['namespace', 'table', 'columnFamily']);
      requireHost('hbase://127.0.0.1:8080 (the REST gateway)');
      const gateway = `${url.protocol === 'hbase:' ? 'http' : 'https'}://${url.host}`;
      const namespace = params.get('namespace') ?? undefined;
      const table = params.get('table') ?? undefined;
      const columnFamily = params.get('columnFamily') ?? undefined;
      return {
        kind: 'hbase',
        display,
        secrets: password,
        create: ({ timeoutMs }) => new HBaseOffsetStore({ url: gateway, namespace, table, columnFamily, requestTimeoutMs: timeoutMs }),
      };
    }
    case 'postgres:':
    case 'postgresql:': {
      allowOnly(['schema', 'table']);
      requireHost('postgres://postgres@127.0.0.1:5432/postgres');
      const schema = params.get('schema') ?? undefined;
      const table = params.get('table') ?? undefined;
      const plain = new URL(value);
      plain.search = '';
      return {
        kind: 'postgres',
        display,
        secrets: password,
        create: ({ timeoutMs }) =>
          new PostgresOffsetStore({ connectionString: plain.toString(), schema, table, connectTimeoutMs: timeoutMs }),
      };
    }
    case 'file:': {
      allowOnly(['retain']);
      if (url.host !== '' && url.host !== 'localhost') {
        throw new ConfigError(flag, display, 'must be a local path', 'Write file:///absolute/path (three slashes).');
      }
      const directory = fileURLToPath(new URL(url.pathname, 'file://'));
      const retainText = params.get('retain');
      const retain = retainText === null ? undefined : Number(retainText);
      return {
        kind: 'checkpoint',
        display,
        secrets: [],
        create: ({ mustExist }) => {
          if (mustExist && !(existsSync(directory) && statSync(directory).isDirectory())) {
            throw new ConfigError(
              flag,
              display,
              `must name an existing checkpoint directory (${directory} ${existsSync(directory) ? 'is not a directory' : 'does not exist'})`,
              "Check the path: it is the directory given to CheckpointOffsetStore's directory option.",
            );
          }
          return new CheckpointOffsetStore({ directory, retain });
        },
      };
    }
    default:
      throw new ConfigError(flag, display, `has an unsupported scheme "${url.protocol}"`, `Pass one of ${SCHEMES}.`);
  }
}
