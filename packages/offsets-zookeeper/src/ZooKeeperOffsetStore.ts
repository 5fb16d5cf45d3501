import {
  AuthenticationError,
  checkExpectedOffsets,
  driverError,
  OffsetStoreError,
  parseStoredOffset,
  redactedView,
  StoreClient,
  topicPartitionKey,
} from '@dstream/core';
import type { OffsetCommit, OffsetStore, StoredOffsets, TopicPartition } from '@dstream/core';
import { ACL, Client, createClient, Exception, Id, Permission, State, Transaction } from 'node-zookeeper-client';
import { checkAuthInfo, checkConnectionString, checkDuration, checkPathSegment, checkRoot } from './checkZooKeeperOptions';

/** Options of `ZooKeeperOffsetStore`. */
export interface ZooKeeperOffsetStoreOptions {
  /**
   * `host:port[,host:port…]`, optionally followed by a chroot (`127.0.0.1:2181/kafka`) that must
   * already exist on the server.
   */
  readonly connectionString: string;
  /**
   * Path under which the `/consumers/…` tree lives: `''` (the default) puts it where Kafka's
   * ZooKeeper-based consumers and tools look for it. Created on demand.
   */
  readonly root?: string;
  /** ZooKeeper session timeout; it also bounds each request. Default 30 000. */
  readonly sessionTimeoutMs?: number;
  /** How long `connect()`, and every request made while disconnected, wait for a session. Default 10 000. */
  readonly connectTimeoutMs?: number;
  /**
   * Credentials the session presents (ZooKeeper's `addauth`), e.g.
   * `{ scheme: 'digest', credentials: 'user:password' }`. With them, the znodes the store creates
   * get ZooKeeper's CREATOR_ALL_ACL: only this identity may read or change them.
   */
  readonly authInfo?: { readonly scheme: string; readonly credentials: string };
}

/** A stored offset and the znode version it was read at: the version is what compare-and-set checks. */
interface StoredNode {
  readonly offset: number;
  readonly version: number;
}

/** What became of one multi-partition write. */
type WriteOutcome = 'committed' | 'conflict' | 'unknown';

const STORE = 'zookeeper';
const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Delay between two attempts to reach a server of the ensemble. */
const RECONNECT_DELAY_MS = 250;
/**
 * Conflicts that leave every expected offset in place (another writer stored the same value, or
 * the ambiguous outcome of a lost connection) are retried this many times in all.
 */
const MAX_WRITE_ATTEMPTS = 5;
/** What a session refused over its credentials is told (the server sends no reason). */
const AUTH_FAILED_REASON = 'the server rejected the credentials of authInfo and closed the session (AUTH_FAILED)';

/**
 * An `OffsetStore` on ZooKeeper, in the layout Kafka's ZooKeeper-based consumers and tools read:
 * `<root>/consumers/<group>/offsets/<topic>/<partition>` holds the next offset to read as a
 * decimal string. A commit reads each partition's znode and writes all of them in one ZooKeeper
 * `multi`, each `setData` conditioned on the version it read (or a `create` for a partition with
 * nothing stored), so the commit is compare-and-set and atomic across partitions. A connection
 * lost with a commit in flight is resolved by reading the znodes back; an expired session is
 * replaced by a new one. ZooKeeper cannot carry a job's output, so there is no `transaction`.
 *
 * @example
 * const store = new ZooKeeperOffsetStore({ connectionString: '127.0.0.1:2181' });
 * await store.connect();
 * await store.commit('wordcount', commitsFromRanges(batch.offsetRanges));
 * await store.close();
 */
export class ZooKeeperOffsetStore implements OffsetStore {
  readonly name = STORE;
  readonly supportsTransactions = false;
  private readonly connectionString: string;
  private readonly root: string;
  private readonly sessionTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly authInfo: { readonly scheme: string; readonly credentials: string } | undefined;
  /** The identity `authInfo` presents (the part of digest credentials before ':'). */
  private readonly user: string | undefined;
  private client: Client | undefined;
  /** The store's life cycle; the session inside it is replaced when it expires (see `session`). */
  private readonly lifecycle: StoreClient<void>;
  /** Set when the server refused the session's credentials: every later call fails with that. */
  private authFailure: AuthenticationError | undefined;

  constructor(options: ZooKeeperOffsetStoreOptions) {
    this.connectionString = checkConnectionString(options?.connectionString);
    this.root = checkRoot(options.root ?? '');
    this.sessionTimeoutMs = checkDuration('sessionTimeoutMs', options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS, 1000);
    this.connectTimeoutMs = checkDuration('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, 1);
    this.authInfo = checkAuthInfo(options.authInfo);
    this.user = this.authInfo === undefined ? undefined : this.authInfo.credentials.split(':')[0];
    redactedView(this, 'ZooKeeperOffsetStore', () => ({
      connectionString: this.connectionString,
      root: this.root,
      authScheme: this.authInfo?.scheme,
      user: this.user,
      state: this.lifecycle.state,
    }));
    this.lifecycle = new StoreClient<void>({
      store: STORE,
      address: this.connectionString,
      acquire: () => this.open(),
      release: async () => this.dropClient(),
      wrap: (what, error) => this.wrap(error, what),
    });
  }

  /**
   * ACLs of the znodes this store creates: owner-only (ZooKeeper's CREATOR_ALL_ACL, everything for
   * the identities this session authenticated as) when the session presents credentials.
   */
  private get acls(): ACL[] | undefined {
    return this.authInfo === undefined ? undefined : [new ACL(Permission.ALL, new Id('auth', ''))];
  }

  /** Opens a session; rejects with a retriable `OffsetStoreError` after `connectTimeoutMs` when no server answers. */
  connect(): Promise<void> {
    return this.lifecycle.connect();
  }

  /** Ends the session. Idempotent. */
  close(): Promise<void> {
    return this.lifecycle.close();
  }

  private async open(): Promise<void> {
    try {
      const client = await this.session();
      // The server answers the credentials after the session is up; a request behind them
      // returns after that answer, so a refusal is known before connect() resolves.
      if (this.authInfo !== undefined) {
        await this.request<void>((live, done) => live.exists('/', (error) => done(error, undefined))).catch((error: unknown) => {
          throw this.authFailure ?? this.wrap(error, 'checking the session');
        });
        if (this.authFailure !== undefined || client.getState() === State.AUTH_FAILED) {
          throw this.authFailure ?? this.refusal(AUTH_FAILED_REASON);
        }
      }
    } catch (error) {
      this.dropClient();
      throw error;
    }
  }

  load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    return this.lifecycle.use(async () => {
      const paths = partitions.map(({ topic, partition }) => this.partitionPath(group, topic, partition));
      const nodes = await Promise.all(paths.map((path) => this.read(path)));
      const offsets = new Map<string, number>();
      partitions.forEach(({ topic, partition }, i) => {
        const node = nodes[i];
        if (node !== null) offsets.set(topicPartitionKey(topic, partition), node.offset);
      });
      return offsets;
    });
  }

  commit(group: string, commits: readonly OffsetCommit[]): Promise<void> {
    return this.lifecycle.use(async () => {
      if (commits.length === 0) return;
      const paths = commits.map(({ range }) => this.partitionPath(group, range.topic, range.partition));
      let nodes = await this.readAll(paths);
      for (let attempt = 1; ; attempt += 1) {
        checkExpectedOffsets(STORE, group, commits, (_, i) => nodes[i]?.offset ?? null);
        const outcome = await this.writeAll(group, commits, paths, nodes);
        if (outcome === 'committed') return;
        // Both a version conflict and a lost connection are settled by what the znodes hold now:
        // every until offset means our multi went through before the connection dropped; every
        // expected offset means it did not (or another writer stored the same values), so write
        // again; anything else is another writer's progress, which the check above reports.
        nodes = await this.readAll(paths).catch((error: unknown) => {
          throw outcome === 'unknown' ? this.unknownOutcome(group, error) : error;
        });
        if (outcome === 'unknown' && commits.every(({ range }, i) => nodes[i]?.offset === range.untilOffset)) return;
        if (attempt >= MAX_WRITE_ATTEMPTS) {
          throw new OffsetStoreError(
            STORE,
            `commit for group ${group} did not go through in ${MAX_WRITE_ATTEMPTS} attempts: its znodes kept changing ` +
              `without leaving the expected offsets; check that no other process writes under ${this.groupPath(group)}`,
            { retriable: true },
          );
        }
      }
    });
  }

  private groupPath(group: string): string {
    checkPathSegment('group', group);
    return `${this.root}/consumers/${group}`;
  }

  private partitionPath(group: string, topic: string, partition: number): string {
    checkPathSegment('topic', topic);
    return `${this.groupPath(group)}/offsets/${topic}/${partition}`;
  }

  private readAll(paths: readonly string[]): Promise<Array<StoredNode | null>> {
    return Promise.all(paths.map((path) => this.read(path)));
  }

  /** The offset in `path` and its version; null when the znode does not exist. */
  private async read(path: string): Promise<StoredNode | null> {
    let data: Buffer | undefined;
    let version: number;
    try {
      [data, version] = await this.request<[Buffer | undefined, number]>((client, done) =>
        client.getData(path, (error, buffer, stat) => done(error, [buffer, stat?.version])),
      );
    } catch (error) {
      if (codeOf(error) === Exception.NO_NODE) return null;
      throw this.wrap(error, `reading ${path}`);
    }
    return { offset: parseOffset(path, data), version };
  }

  /**
   * Writes every partition's until offset in one multi: `setData` at the version read, or
   * `create` where nothing was stored. A version conflict or an existing/missing znode means
   * another writer got there between our read and our write.
   */
  private async writeAll(
    group: string,
    commits: readonly OffsetCommit[],
    paths: readonly string[],
    nodes: ReadonlyArray<StoredNode | null>,
  ): Promise<WriteOutcome> {
    // A multi cannot create parents on the way; the parents are the layout's empty "directory"
    // znodes, so creating them ahead of the multi changes no offset.
    const parents = new Set(paths.filter((_, i) => nodes[i] === null).map((path) => path.slice(0, path.lastIndexOf('/'))));
    await Promise.all([...parents].map((parent) => this.mkdirp(parent)));
    try {
      await this.request<void>((client, done) => {
        const multi = client.transaction();
        commits.forEach(({ range }, i) => {
          const data = Buffer.from(String(range.untilOffset));
          const node = nodes[i];
          if (node === null) {
            if (this.acls === undefined) multi.create(paths[i], data);
            else multi.create(paths[i], data, this.acls);
          }
          else setDataAtVersion(multi, paths[i], data, node.version);
        });
        multi.commit((error) => done(error, undefined));
      });
      return 'committed';
    } catch (error) {
      const code = codeOf(error);
      if (code === Exception.BAD_VERSION || code === Exception.NODE_EXISTS || code === Exception.NO_NODE) return 'conflict';
      if (isConnectionLevel(error)) return 'unknown';
      throw this.wrap(error, `committing offsets of group ${group}`);
    }
  }

  private async mkdirp(path: string): Promise<void> {
    try {
      // node-zookeeper-client's mkdirp treats NODE_EXISTS as success at every level, so
      // concurrent first commits of two partitions under one topic do not fail each other.
      await this.request<void>((client, done) => {
        const acls = this.acls;
        if (acls === undefined) client.mkdirp(path, (error) => done(error, undefined));
        else client.mkdirp(path, acls, (error) => done(error, undefined));
      });
    } catch (error) {
      throw this.wrap(error, `creating ${path}`);
    }
  }

  /**
   * Sends one request on a live session. It fails with a retriable `OffsetStoreError` when no
   * answer comes within `sessionTimeoutMs`: by then the session is gone on the server side too.
   */
  private async request<T>(send: (client: Client, done: (error: unknown, value: T) => void) => void): Promise<T> {
    const client = await this.session();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new OffsetStoreError(STORE, `no answer from ZooKeeper at ${this.connectionString} within ${this.sessionTimeoutMs} ms`, {
            retriable: true,
          }),
        );
      }, this.sessionTimeoutMs);
      send(client, (error, value) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(value);
      });
    });
  }

  /** A connected client: the current one once it (re)connects, or a new one after the session expired. */
  private async session(): Promise<Client> {
    // Requests run while connecting too (the credentials check), so only a closed store is refused here.
    this.lifecycle.assertNotClosed();
    if (this.authFailure !== undefined) throw this.authFailure;
    const deadline = Date.now() + this.connectTimeoutMs;
    for (;;) {
      const client = this.client ?? this.openClient();
      if (client.getState() === State.SYNC_CONNECTED) return client;
      const state = await this.nextState(client, deadline - Date.now());
      if (state === State.SYNC_CONNECTED) return client;
      // Expired while we waited: the state listener forgot the client, the loop opens a new one.
    }
  }

  /** Waits for `client` to connect or expire; rejects when neither happens within `waitMs`. */
  private nextState(client: Client, waitMs: number): Promise<State> {
    return new Promise<State>((resolve, reject) => {
      const onState = (state: State): void => {
        if (state === State.AUTH_FAILED) {
          clearTimeout(timer);
          client.removeListener('state', onState);
          reject(this.authFailure ?? this.refusal(AUTH_FAILED_REASON));
          return;
        }
        if (state !== State.SYNC_CONNECTED && state !== State.EXPIRED) return;
        clearTimeout(timer);
        client.removeListener('state', onState);
        resolve(state);
      };
      const timer = setTimeout(() => {
        client.removeListener('state', onState);
        reject(
          new OffsetStoreError(
            STORE,
            `no ZooKeeper session with ${this.connectionString} within ${this.connectTimeoutMs} ms; ` +
              `check that ZooKeeper runs and listens there, or raise connectTimeoutMs`,
            { retriable: true },
          ),
        );
      }, Math.max(waitMs, 0));
      client.on('state', onState);
    });
  }

  private openClient(): Client {
    const client = createClient(this.connectionString, {
      sessionTimeout: this.sessionTimeoutMs,
      spinDelay: RECONNECT_DELAY_MS,
      retries: 0,
    });
    this.client = client;
    if (this.authInfo !== undefined) client.addAuthInfo(this.authInfo.scheme, Buffer.from(this.authInfo.credentials));
    // An expired session never comes back and its client stops reconnecting: forget it, and the
    // next request opens a new session (ephemeral state would be lost, but this store keeps none).
    client.on('state', (state) => {
      if (state === State.EXPIRED && this.client === client) this.dropClient();
      // The server closed the session over its credentials, and would again: remember the refusal.
      if (state === State.AUTH_FAILED && this.client === client) {
        this.authFailure = this.refusal(AUTH_FAILED_REASON);
        this.dropClient();
      }
    });
    client.connect();
    return client;
  }

  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    client?.close();
  }

  private unknownOutcome(group: string, error: unknown): OffsetStoreError {
    return new OffsetStoreError(
      STORE,
      `the connection to ${this.connectionString} was lost during a commit for group ${group} and reading the offsets ` +
        `back failed, so whether it was applied is unknown; retrying the batch is safe (its commit is compare-and-set)`,
      { retriable: true, cause: driverError(error) },
    );
  }

  private wrap(error: unknown, doing: string): OffsetStoreError | AuthenticationError {
    if (error instanceof OffsetStoreError || error instanceof AuthenticationError) return error;
    const code = codeOf(error);
    if (code === Exception.NO_AUTH || code === Exception.AUTH_FAILED) {
      return this.refusal(`${doing}: ${describeError(error)}`, error);
    }
    return new OffsetStoreError(STORE, `${doing} at ${this.connectionString} failed: ${describeError(error)}`, {
      retriable: isConnectionLevel(error),
      cause: driverError(error),
    });
  }

  /** The `AuthenticationError` of a session the server refused, or a znode whose ACL denies it. */
  private refusal(reason: string, cause?: unknown): AuthenticationError {
    return new AuthenticationError(
      STORE,
      this.connectionString,
      this.user,
      reason,
      this.authInfo === undefined
        ? 'The znodes have an ACL: pass the identity allowed by it as authInfo, e.g. { scheme: "digest", credentials: "user:password" }'
        : "Check authInfo's scheme and credentials against the znodes' ACLs (zkCli.sh getAcl); trying again with the same credentials fails the same way",
      { cause: cause === undefined ? undefined : driverError(cause) },
    );
  }
}

/**
 * Adds a `setData` conditioned on `version` to a multi. node-zookeeper-client 1.1.3's
 * Transaction does `version = version || -1`, turning version 0, the version of every znode
 * never updated, into "any version": the first update of each partition would not be
 * compare-and-set. The ops are serialized only at commit, so the version is put back here.
 */
function setDataAtVersion(multi: Transaction, path: string, data: Buffer, version: number): void {
  multi.setData(path, data, version);
  const ops = (multi as unknown as { ops?: Array<{ path?: string; version?: number }> }).ops;
  const op = Array.isArray(ops) ? ops[ops.length - 1] : undefined;
  if (op?.path !== path || typeof op.version !== 'number') {
    throw new OffsetStoreError(
      STORE,
      'node-zookeeper-client\'s Transaction no longer keeps its ops where this store corrects their version; ' +
        'install the node-zookeeper-client version @dstream/offsets-zookeeper declares',
    );
  }
  op.version = version;
}

/** Reads a znode's offset; anything but a decimal safe integer is reported with the znode's path. */
export function parseOffset(path: string, data: Buffer | null | undefined): number {
  return parseStoredOffset(
    STORE,
    data?.toString('utf8') ?? '',
    `znode ${path}`,
    `set it to the next offset to read with zkCli.sh "set ${path} <offset>", or delete it to start from the configured start offset`,
  );
}

function codeOf(error: unknown): number | undefined {
  return error instanceof Exception ? error.getCode() : undefined;
}

/** Failures of the connection or the session, after which trying again may succeed. */
function isConnectionLevel(error: unknown): boolean {
  if (error instanceof OffsetStoreError) return error.retriable;
  const code = codeOf(error);
  return code === Exception.CONNECTION_LOSS || code === Exception.OPERATION_TIMEOUT || code === Exception.SESSION_EXPIRED;
}

function describeError(error: unknown): string {
  return error instanceof Exception ? error.toString() : error instanceof Error ? error.message : String(error);
}
