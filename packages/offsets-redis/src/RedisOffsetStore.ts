import { createHash } from 'node:crypto';
import { Redis, type ChainableCommander } from 'ioredis';
import {
  checkExpectedOffsets,
  ConfigError,
  decodeStateMeta,
  decodeStateRecord,
  type DeadLetter,
  deadLetterId,
  driverError,
  encodeStateWrite,
  LoadedState,
  OffsetCommit,
  OffsetStore,
  OffsetStoreError,
  parseStoredOffset,
  printable,
  redactedView,
  STATE_META_FIELD,
  StaleOffsetError,
  StateWrite,
  StoreClient,
  StoredOffsets,
  TopicPartition,
  topicPartitionKey,
} from '@dstream/core';
import {
  addressOf,
  checkUrl,
  isRedisClient,
  messageOf,
  quit,
  redisClientOptions,
  redisError,
  type RedisEndpoint,
  userOf,
  waitReady,
} from './redisClient';

/** Options of `RedisOffsetStore`. Give either `url` or `redis`, not both. */
export interface RedisOffsetStoreOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://…`. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /** An existing ioredis client to use instead of `url`. The store never closes it. */
  readonly redis?: Redis;
  /**
   * Prefix of the offset hashes: `${keyPrefix}:${group}:${topic}`, with `%` and `:` in the group
   * and topic written as `%25` and `%3A`, so that no two groups share a hash. Default `dstream:offsets`.
   * Operator state lives beside them, one hash per group and operator: `${keyPrefix}:${group}:state:${operator}`
   * (the operator name escaped the same way; four parts, so it never meets an offset hash).
   */
  readonly keyPrefix?: string;
  /** How long `connect()` waits for the server before failing. Default 10000. */
  readonly connectTimeoutMs?: number;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const DEFAULT_KEY_PREFIX = 'dstream:offsets';
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/**
 * EXEC aborts whenever anything touches a watched hash, including commits of other partitions of
 * the same topic by other members of the group; a few attempts absorb that without livelocking.
 */
const MAX_TRANSACTION_ATTEMPTS = 5;

/**
 * Compare-and-set of a whole batch in one script, so it is atomic across partitions and topics.
 * KEYS: the hashes. ARGV: 4 per commit (index into KEYS, partition, expected or '', until).
 * Returns 'OK', or {position of the first stale commit (1-based), stored value or ''}.
 */
const COMMIT_SCRIPT = `
for i = 1, #ARGV, 4 do
  local stored = redis.call('HGET', KEYS[tonumber(ARGV[i])], ARGV[i + 1])
  if (stored or '') ~= ARGV[i + 2] then
    return {(i + 3) / 4, stored or ''}
  end
end
for i = 1, #ARGV, 4 do
  redis.call('HSET', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 3])
end
return 'OK'
`;
const COMMIT_SCRIPT_SHA = createHash('sha1').update(COMMIT_SCRIPT).digest('hex');

/** The connections of an open store: commands, and the transactions' own (see `txClient`). */
interface Connections {
  readonly client: Redis;
  /**
   * WATCH is state of one connection, so transactions get a connection of their own that never
   * queues commands while disconnected and never resends them after a reconnect: either would
   * let a MULTI/EXEC reach a new connection that no longer watches the offsets.
   */
  readonly txClient: Redis;
}

/**
 * Keeps offsets in Redis, one hash per group and topic (`${keyPrefix}:${group}:${topic}`, field =
 * partition, value = next offset to read), the layout `redis-cli HGETALL` shows directly.
 * Commits are compare-and-set through a Lua script; `transaction` carries the user's writes and
 * the offsets in one WATCH/MULTI/EXEC. Operator state (`supportsState`) is kept in one hash per
 * group and operator (field = the key's JSON, value = the version-1 record; field `!meta` = kind
 * and state version), written in the same MULTI/EXEC as the offsets and read with one HGETALL.
 *
 * @example
 * const store = new RedisOffsetStore({ url: 'redis://127.0.0.1:6379' });
 * await store.connect();
 * await store.transaction('wordcount', commitsFromRanges(ranges), async (tx) => {
 *   for (const [word, n] of counts) tx.hincrby('wordcount:totals', word, n);
 * });
 */
export class RedisOffsetStore implements OffsetStore<ChainableCommander> {
  readonly name = 'redis';
  readonly supportsTransactions = true;
  readonly supportsState = true;

  private readonly address: string;
  /** The ACL user the client presents (undefined: `default`, or a password-only AUTH). */
  private readonly user: string | undefined;
  private readonly keyPrefix: string;
  private readonly connectTimeoutMs: number;
  private readonly ownsClient: boolean;
  private readonly client: Redis;
  private readonly lifecycle: StoreClient<Connections>;
  private readonly endpoint: RedisEndpoint;
  /** Bumped whenever the transaction connection closes: a WATCH from before is gone. */
  private txConnectionEpoch = 0;
  /** Transactions of this instance run one at a time: they share the watching connection. */
  private txQueue: Promise<unknown> = Promise.resolve();

  constructor(options: RedisOffsetStoreOptions = {}) {
    const { url, redis, keyPrefix = DEFAULT_KEY_PREFIX, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS } = options;
    if (url !== undefined && redis !== undefined) {
      throw new ConfigError('url', url, 'must not be given together with redis', 'Pass either url or redis.');
    }
    if (redis !== undefined && !isRedisClient(redis)) {
      throw new ConfigError('redis', redis, 'must be an ioredis Redis client', 'Pass `new Redis(…)` from ioredis, or a url.');
    }
    if (url !== undefined) checkUrl(url);
    if (typeof keyPrefix !== 'string' || keyPrefix.length === 0) {
      throw new ConfigError('keyPrefix', keyPrefix, 'must be a non-empty string', `Omit it for "${DEFAULT_KEY_PREFIX}".`);
    }
    if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs <= 0) {
      throw new ConfigError('connectTimeoutMs', connectTimeoutMs, 'must be a positive integer', 'Pass a number of milliseconds, e.g. 10000.');
    }
    this.keyPrefix = keyPrefix;
    this.connectTimeoutMs = connectTimeoutMs;
    this.ownsClient = redis === undefined;
    this.client = redis ?? new Redis(url ?? DEFAULT_URL, redisClientOptions(this.connectTimeoutMs));
    this.address = redis === undefined ? addressOf(url ?? DEFAULT_URL) : `${redis.options.host}:${redis.options.port}`;
    this.user = (redis === undefined ? userOf(url ?? DEFAULT_URL) : redis.options.username) || undefined;
    this.endpoint = { address: this.address, user: this.user, keyPrefix, connectTimeoutMs };
    // Connection errors reach callers as rejected commands; the 'error' event would only repeat them.
    if (this.ownsClient) this.client.on('error', () => undefined);
    this.lifecycle = new StoreClient<Connections>({
      store: this.name,
      address: this.address,
      acquire: () => this.open(),
      release: async ({ client, txClient }) => {
        await Promise.all((this.ownsClient ? [client, txClient] : [txClient]).map(quit));
      },
      wrap: (what, error) => redisError(this.endpoint, what, error),
    });
    // The clients hold the password in their options: show where the store points, nothing more.
    redactedView(this, 'RedisOffsetStore', () => ({
      address: this.address,
      user: this.user,
      keyPrefix: this.keyPrefix,
      state: this.lifecycle.state,
    }));
  }

  /** Connects (both the command and the transaction connection), failing after `connectTimeoutMs`. */
  connect(): Promise<void> {
    return this.lifecycle.connect();
  }

  /** Closes the connections this store opened (not a client passed as `redis`). Idempotent. */
  close(): Promise<void> {
    return this.lifecycle.close();
  }

  private async open(): Promise<Connections> {
    const txClient = this.client.duplicate(redisClientOptions(this.connectTimeoutMs));
    txClient.on('error', () => undefined);
    txClient.on('close', () => void (this.txConnectionEpoch += 1));
    try {
      await Promise.all([waitReady(this.client, this.endpoint), waitReady(txClient, this.endpoint)]);
    } catch (error) {
      txClient.disconnect();
      if (this.ownsClient) this.client.disconnect();
      throw error;
    }
    return { client: this.client, txClient };
  }

  /** Stored offsets of these partitions, read with one HMGET per topic in one round trip. */
  load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    return this.lifecycle.use(async () => {
      const { client } = this.lifecycle.connection;
      const byTopic = new Map<string, number[]>();
      for (const { topic, partition } of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
      const pipeline = client.pipeline();
      for (const [topic, fields] of byTopic) pipeline.hmget(this.hashKey(group, topic), ...fields.map(String));
      const replies = (await this.call('load offsets', () => pipeline.exec())) ?? [];
      const result = new Map<string, number>();
      [...byTopic].forEach(([topic, fields], i) => {
        const [error, values] = replies[i] ?? [new Error('no reply')];
        if (error) throw this.loadError(group, topic, error);
        fields.forEach((partition, j) => {
          const stored = (values as Array<string | null>)[j];
          if (stored !== null) {
            result.set(topicPartitionKey(topic, partition), this.parseOffset(this.hashKey(group, topic), partition, stored));
          }
        });
      });
      return result;
    });
  }

  /**
   * Compare-and-set commit of all partitions at once, through one Lua script; with `state`, a
   * WATCH/MULTI/EXEC that writes the state hashes and the offsets together.
   */
  commit(group: string, commits: readonly OffsetCommit[], state?: StateWrite): Promise<void> {
    return this.lifecycle.use(async () => {
      const { client } = this.lifecycle.connection;
      if (state !== undefined && state.length > 0) {
        await this.transaction(group, commits, async () => undefined, () => state);
        return;
      }
      if (commits.length === 0) return;
      const keys = [...new Set(commits.map(({ range }) => this.hashKey(group, range.topic)))];
      const args = commits.flatMap(({ range, expectedOffset }) => [
        String(keys.indexOf(this.hashKey(group, range.topic)) + 1),
        String(range.partition),
        expectedOffset === null ? '' : String(expectedOffset),
        String(range.untilOffset),
      ]);
      const reply = await this.call('commit offsets', () => this.evalCommit(client, keys, args));
      if (reply === 'OK') return;
      const [position, stored] = reply as [number, string];
      const { range, expectedOffset } = commits[position - 1];
      const actual = stored === '' ? null : this.parseOffset(this.hashKey(group, range.topic), range.partition, stored);
      throw new StaleOffsetError(this.name, group, range.topic, range.partition, expectedOffset, actual);
    });
  }

  /**
   * Runs `work` with a MULTI pipeline `tx` to queue writes on (don't call `tx.exec()`), then
   * commits them with the offsets in one EXEC under WATCH of the offset hashes. If another client
   * changed those hashes meanwhile, EXEC does nothing and the attempt starts again: re-reading the
   * offsets (stale: `StaleOffsetError`, nothing written) and calling `work` again on a fresh `tx`.
   * `work` may therefore run more than once; only one run's writes are applied.
   *
   * Redis does not roll back a command that fails while EXEC runs (e.g. WRONGTYPE): the other
   * writes and the offsets are applied. That case rejects with a non-retriable `OffsetStoreError`
   * naming the failed command, so the job stops instead of silently losing that write.
   */
  transaction<T>(
    group: string,
    commits: readonly OffsetCommit[],
    work: (tx: ChainableCommander) => Promise<T>,
    state?: () => StateWrite,
  ): Promise<T> {
    return this.lifecycle.use(({ txClient }) => {
      const run = this.txQueue.then(() => this.runTransaction(txClient, group, commits, work, state));
      this.txQueue = run.catch(() => undefined);
      return run;
    });
  }

  /** The stored state of `operator`, read with one HGETALL of its hash. */
  loadState(group: string, operator: string): Promise<LoadedState | undefined> {
    return this.lifecycle.use(async () => {
      const { client } = this.lifecycle.connection;
      const fields = await this.call(`load state of ${printable(operator)}`, () => client.hgetall(this.stateKey(group, operator)));
      const meta = fields[STATE_META_FIELD];
      if (meta === undefined) return undefined;
      const entries: (readonly [unknown, unknown])[] = [];
      for (const [field, text] of Object.entries(fields)) {
        if (field !== STATE_META_FIELD) entries.push(decodeStateRecord(operator, text));
      }
      return { ...decodeStateMeta(operator, meta), entries };
    });
  }

  /** The state names of `group`: a SCAN over its state hashes. */
  listState(group: string): Promise<string[]> {
    return this.lifecycle.use(async () => {
      const { client } = this.lifecycle.connection;
      const prefix = `${this.keyPrefix}:${escapeKeyPart(group)}:state:`;
      const names = new Set<string>();
      await this.call('list state', async () => {
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
          cursor = next;
          for (const key of keys) names.add(decodeURIComponent(key.slice(prefix.length)));
        } while (cursor !== '0');
      });
      return [...names].sort();
    });
  }

  /** Deletes the state hash of `operator` (a state name, see `listState`). */
  deleteState(group: string, operator: string): Promise<void> {
    return this.lifecycle.use(async () => {
      const { client } = this.lifecycle.connection;
      await this.call(`delete state of ${printable(operator)}`, () => client.del(this.stateKey(group, operator)));
    });
  }

  /**
   * Keeps dead letters in one hash per group, `${keyPrefix}:${group}:@deadletters` (`@` cannot
   * occur in a topic name, so no offsets hash has that key), field `topic:partition:offset`,
   * value the letter as JSON. HSETNX: a letter written again changes nothing. Given `tx`, the
   * writes are queued in that MULTI and land with its offsets.
   */
  writeDeadLetters(group: string, letters: readonly DeadLetter[], tx?: ChainableCommander): Promise<void> {
    return this.lifecycle.use(async () => {
      const { client } = this.lifecycle.connection;
      const key = this.deadLetterKey(group);
      if (tx !== undefined) {
        for (const letter of letters) tx.hsetnx(key, deadLetterId(letter), JSON.stringify(letter));
        return;
      }
      const replies = await this.call('write dead letters', () => {
        const pipeline = client.multi();
        for (const letter of letters) pipeline.hsetnx(key, deadLetterId(letter), JSON.stringify(letter));
        return pipeline.exec();
      });
      const failed = replies?.find(([error]) => error);
      if (failed !== undefined) {
        throw new OffsetStoreError(this.name, `writing dead letters to ${key} failed: ${messageOf(failed[0])}; the offsets were not committed`, {
          cause: driverError(failed[0]),
        });
      }
    });
  }

  /** The dead letters kept for `group`, in (topic, partition, offset) order. */
  loadDeadLetters(group: string): Promise<DeadLetter[]> {
    return this.lifecycle.use(async () => {
      const { client } = this.lifecycle.connection;
      const key = this.deadLetterKey(group);
      const fields = await this.call('load dead letters', () => client.hgetall(key));
      const letters = Object.entries(fields).map(([field, json]) => {
        try {
          return JSON.parse(json) as DeadLetter;
        } catch (error) {
          throw new OffsetStoreError(this.name, `${key} field ${field} holds ${printable(json)}, not a dead letter as JSON; fix or delete it`, {
            cause: error,
          });
        }
      });
      return letters.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset));
    });
  }

  private async runTransaction<T>(
    client: Redis,
    group: string,
    commits: readonly OffsetCommit[],
    work: (tx: ChainableCommander) => Promise<T>,
    state: (() => StateWrite) | undefined,
  ): Promise<T> {
    const keys = [...new Set(commits.map(({ range }) => this.hashKey(group, range.topic)))];
    for (let attempt = 1; attempt <= MAX_TRANSACTION_ATTEMPTS; attempt += 1) {
      const epoch = this.txConnectionEpoch;
      if (keys.length > 0) await this.call('watch offsets', () => client.watch(...keys));
      let tx: ChainableCommander;
      let result: T;
      try {
        await this.checkExpected(client, group, commits);
        tx = client.multi();
        result = await work(tx);
      } catch (error) {
        await client.unwatch().catch(() => undefined);
        throw error;
      }
      for (const key of keys) {
        const fields = commits
          .filter(({ range }) => this.hashKey(group, range.topic) === key)
          .flatMap(({ range }) => [String(range.partition), String(range.untilOffset)]);
        tx.hset(key, ...fields);
      }
      for (const write of state?.() ?? []) {
        const { set, remove } = encodeStateWrite(write);
        const key = this.stateKey(group, write.operator);
        tx.hset(key, ...set.flat());
        if (remove.length > 0) tx.hdel(key, ...remove);
      }
      // A reconnect since WATCH means the server no longer watches for us: start over.
      if (this.txConnectionEpoch !== epoch || client.status !== 'ready') continue;
      const replies = await this.call('commit transaction', () => tx.exec());
      if (replies === null) continue;
      const failed = replies.findIndex(([error]) => error);
      if (failed >= 0) {
        throw new OffsetStoreError(
          this.name,
          `command ${failed + 1} of the transaction for group ${printable(group)} failed: ${messageOf(replies[failed][0])}. ` +
            `Redis applied the transaction's other writes and its offsets (EXEC does not roll back); fix the command`,
          { cause: driverError(replies[failed][0]) },
        );
      }
      return result;
    }
    throw new OffsetStoreError(
      this.name,
      `offsets of group ${printable(group)} changed during each of ${MAX_TRANSACTION_ATTEMPTS} transaction attempts ` +
        `(other members committing the same topics, or reconnects); nothing was written`,
      { retriable: true },
    );
  }

  /** Reads the offsets under WATCH and rejects with `StaleOffsetError` at the first mismatch. */
  private async checkExpected(client: Redis, group: string, commits: readonly OffsetCommit[]): Promise<void> {
    const stored = await this.call('read offsets', () =>
      Promise.all(commits.map(({ range }) => client.hget(this.hashKey(group, range.topic), String(range.partition)))),
    );
    checkExpectedOffsets(this.name, group, commits, ({ range }, i) =>
      stored[i] === null ? null : this.parseOffset(this.hashKey(group, range.topic), range.partition, stored[i] as string),
    );
  }

  /** The offset a hash field holds (see core's `parseStoredOffset`). */
  private parseOffset(key: string, partition: number, stored: string): number {
    return parseStoredOffset(this.name, stored, `hash ${key} field ${partition}`, 'fix or delete the field (HSET/HDEL) to resume');
  }

  /** EVALSHA, loading the script with EVAL when the server does not have it (restart, SCRIPT FLUSH). */
  private async evalCommit(client: Redis, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await client.evalsha(COMMIT_SCRIPT_SHA, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(COMMIT_SCRIPT, keys.length, ...keys, ...args);
    }
  }

  private stateKey(group: string, operator: string): string {
    return `${this.keyPrefix}:${escapeKeyPart(group)}:state:${escapeKeyPart(operator)}`;
  }

  private deadLetterKey(group: string): string {
    return `${this.keyPrefix}:${escapeKeyPart(group)}:@deadletters`;
  }

  private hashKey(group: string, topic: string): string {
    return `${this.keyPrefix}:${escapeKeyPart(group)}:${escapeKeyPart(topic)}`;
  }

  /**
   * A failed HMGET of a topic's offsets hash. `WRONGTYPE` means the key holds something other
   * than a hash: another program's key under the prefix, not offsets of this store, so the message
   * names the key and the way out rather than the bare reply.
   */
  private loadError(group: string, topic: string, error: unknown): Error {
    const message = messageOf(error);
    if (!/^WRONGTYPE/.test(message)) return redisError(this.endpoint, `load offsets of ${topic}`, error);
    const key = this.hashKey(group, topic);
    return new OffsetStoreError(
      this.name,
      `load offsets of ${topic} at ${this.address} failed: key ${printable(key)} is not a hash of offsets (${message}). ` +
        `Something other than this store wrote it: see TYPE ${printable(key)}, then rename or delete the key if it is not needed, ` +
        `or pass another keyPrefix (now ${printable(this.keyPrefix)}) so the offsets live elsewhere`,
      { retriable: false, cause: driverError(error) },
    );
  }

  private async call<R>(what: string, operation: () => Promise<R>): Promise<R> {
    try {
      return await operation();
    } catch (error) {
      throw this.lifecycle.wrap(what, error);
    }
  }


}

/** A group or topic as one part of a hash key: `%` and the separator `:` percent-encoded. */
function escapeKeyPart(name: string): string {
  return name.replace(/%/g, '%25').replace(/:/g, '%3A');
}
