/**
 * How `RedisOffsetStore` talks to its server: the ioredis client options, waiting for a
 * connection, and the wrapping of ioredis errors (`OffsetStoreError`, or `AuthenticationError`
 * for a refusal), plus the checks of the url and the client passed in.
 */
import { Redis, ReplyError } from 'ioredis';
import { AuthenticationError, ConfigError, driverError, OffsetStoreError } from '@dstream/core';

const STORE = 'redis';
const DEFAULT_URL = 'redis://127.0.0.1:6379';

/** Where a store points and what its messages name: never a password. */
export interface RedisEndpoint {
  readonly address: string;
  /** The ACL user the client presents (undefined: `default`, or a password-only AUTH). */
  readonly user: string | undefined;
  readonly keyPrefix: string;
  readonly connectTimeoutMs: number;
}

/**
 * Server replies that mean "not now" rather than "never": a server loading its data, a busy
 * script, a replica that cannot take writes during a failover.
 */
const RETRIABLE_REPLIES = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY|CLUSTERDOWN)\b/;
/**
 * Replies that refuse the client: a wrong user or password (WRONGPASS), none given to a server
 * that wants one (NOAUTH), an ACL that denies a command or key (NOPERM). ioredis retries a failed
 * AUTH on every reconnect, so these end `connect` at once instead of after `connectTimeoutMs`.
 */
const REFUSED_REPLY = /\b(WRONGPASS|NOAUTH|NOPERM)\b/;

/**
 * The owned connections fail fast while disconnected (no offline queue) and reconnect in the
 * background, so a command during an outage rejects with a retriable error instead of waiting
 * unboundedly; the stream's retry policy decides what happens next. They never resend a command
 * after a reconnect: a resent commit whose first copy landed would come back stale, where a
 * retriable error lets the stream see that the store already holds the batch's offsets.
 */
export function redisClientOptions(connectTimeoutMs: number) {
  return {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(50 * 2 ** times, 2000),
  };
}

/** Waits until `client` is ready, failing after `connectTimeoutMs`, or at once when the server refuses it. */
export async function waitReady(client: Redis, endpoint: RedisEndpoint): Promise<void> {
  if (client.status === 'ready') return;
  let lastError: unknown;
  let onError: (error: unknown) => void = () => undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady);
        const why = lastError instanceof Error ? `: ${lastError.message}` : '';
        reject(
          new OffsetStoreError(
            STORE,
            `no Redis server answered at ${endpoint.address} within ${endpoint.connectTimeoutMs} ms${why}. ` +
              `Start Redis there, or fix the host and port of the url (or of the client passed as redis); ` +
              `raise connectTimeoutMs if the server is slow to come up`,
            {
              retriable: true,
              cause: driverError(lastError),
            },
          ),
        );
      }, endpoint.connectTimeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      onError = (error: unknown) => {
        lastError = error;
        // The server answered and refused: no reconnect will change its mind.
        if (isRefusal(error)) {
          clearTimeout(timer);
          client.off('ready', onReady);
          reject(redisError(endpoint, 'connect', error));
        }
      };
      client.on('error', onError);
      client.once('ready', onReady);
      // A failed first attempt rejects here, but retryStrategy keeps reconnecting until the deadline.
      if (client.status === 'wait' || client.status === 'end') client.connect().catch(onError);
    });
  } finally {
    client.off('error', onError);
  }
}

/**
 * Client errors become `OffsetStoreError`, and refusals (`REFUSED_REPLY`) `AuthenticationError`;
 * server replies are final unless they mean "not now". The cause is a `driverError` copy: an
 * ioredis `ReplyError` carries the failed command's arguments, the password of an AUTH among them.
 */
export function redisError(endpoint: RedisEndpoint, what: string, error: unknown): OffsetStoreError | AuthenticationError {
  if (error instanceof OffsetStoreError || error instanceof AuthenticationError) return error;
  const message = messageOf(error);
  if (isRefusal(error)) {
    return new AuthenticationError(
      STORE,
      endpoint.address,
      endpoint.user,
      `${what}: ${message}`,
      /NOPERM/.test(message)
        ? `Grant the ACL user the commands and keys the store uses (EVALSHA, EVAL, HMGET, HGET, HSET, HDEL, HGETALL, WATCH, MULTI, EXEC on ${endpoint.keyPrefix}:*)`
        : 'Check the user name and password of the url (or of the client passed as redis) against the server\'s ' +
            'requirepass or ACL users; trying again with the same credentials fails the same way',
      { cause: driverError(error) },
    );
  }
  const isReply = error instanceof ReplyError;
  return new OffsetStoreError(STORE, `${what} at ${endpoint.address} failed: ${message}`, {
    retriable: !isReply || RETRIABLE_REPLIES.test(message),
    cause: driverError(error),
  });
}

export function isRefusal(error: unknown): boolean {
  return REFUSED_REPLY.test(messageOf(error));
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}


export function checkUrl(url: unknown): void {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')) {
    throw new ConfigError('url', url, 'must be a redis:// or rediss:// URL', `Pass e.g. "${DEFAULT_URL}".`);
  }
}

/** host:port of a URL, never its password. */
export function addressOf(url: string): string {
  const { hostname, port } = new URL(url);
  return `${hostname || '127.0.0.1'}:${port || 6379}`;
}

/** The user name of a URL (`redis://user:password@…`), if it has one. */
export function userOf(url: string): string | undefined {
  const { username } = new URL(url);
  return username === '' ? undefined : decodeURIComponent(username);
}

export function isRedisClient(value: unknown): value is Redis {
  const candidate = value as Partial<Redis> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.duplicate === 'function' &&
    typeof candidate.multi === 'function' &&
    typeof candidate.options === 'object'
  );
}

export async function quit(client: Redis): Promise<void> {
  if (client.status === 'end' || client.status === 'wait') {
    client.disconnect();
    return;
  }
  // QUIT lets replies in flight arrive; a server that is gone gets a plain disconnect.
  await client.quit().catch(() => client.disconnect());
}
