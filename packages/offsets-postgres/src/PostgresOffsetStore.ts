import { escapeIdentifier, Pool, type PoolClient } from 'pg';
import {
  checkExpectedOffsets,
  ConfigError,
  decodeStateMeta,
  decodeStateRecord,
  type DeadLetter,
  LoadedState,
  OffsetCommit,
  OffsetStore,
  parseStoredOffset,
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
  checkConnectionString,
  checkIdentifier,
  checkOffsetColumns,
  DEFAULT_CONNECTION_STRING,
  firstConnection,
  isPool,
  postgresError,
  type PostgresEndpoint,
  userOf,
} from './postgresConnection';
import {
  createTableLocked,
  DEAD_LETTER_TABLE,
  type DeadLetterRow,
  deadLetterTableDdl,
  offsetsTableDdl,
  stateTableDdl,
  toDeadLetter,
} from './postgresTables';
import {
  deadLetterColumns,
  deleteOperatorStateSql,
  deleteStateKeysSql,
  insertDeadLettersSql,
  insertOffsetsSql,
  listStateSql,
  loadDeadLettersSql,
  loadOffsetsSql,
  loadStateSql,
  offsetColumns,
  type OffsetRow,
  readOffsetsSql,
  stateColumns,
  type StateRow,
  updateOffsetsSql,
  upsertStateSql,
} from './postgresStatements';

/** Options of `PostgresOffsetStore`. Give either `connectionString` or `pool`, not both. */
export interface PostgresOffsetStoreOptions {
  /** `postgres://user[:password]@host:port/database`. Default `postgres://postgres@127.0.0.1:5432/postgres`. */
  readonly connectionString?: string;
  /** An existing pg pool to use instead of `connectionString`. The store never ends it. */
  readonly pool?: Pool;
  /** Schema of the offsets table, created if missing. Default `public`. */
  readonly schema?: string;
  /** Name of the offsets table, created if missing. Default `dstream_offsets`. */
  readonly table?: string;
  /**
   * Name of the operator state table (same schema), created on first use: the first state write
   * or `loadState`. Default `dstream_state`.
   */
  readonly stateTable?: string;
  /** How long `connect()` keeps trying to reach the server before failing. Default 10000. */
  readonly connectTimeoutMs?: number;
}

const DEFAULT_SCHEMA = 'public';
const DEFAULT_TABLE = 'dstream_offsets';
const DEFAULT_STATE_TABLE = 'dstream_state';
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Keeps offsets in a PostgreSQL table, one row per (group, topic, partition) holding the next
 * offset to read. Commits are compare-and-set inside one transaction (`SELECT … FOR UPDATE`, then
 * conditional `UPDATE`/`INSERT … ON CONFLICT DO NOTHING` with row counts checked); `transaction`
 * hands the user that transaction's `PoolClient`, so results and offsets commit together.
 * Operator state (`supportsState`) lives in the `stateTable`, one row per (group, operator, key)
 * holding the version-1 record as jsonb (key `!meta`: kind and state version), upserted and
 * deleted in the same transaction as the offsets.
 *
 * @example
 * const store = new PostgresOffsetStore({ connectionString: 'postgres://postgres@127.0.0.1:5432/app' });
 * await store.connect();
 * await store.transaction('wordcount', commitsFromRanges(ranges), async (tx) => {
 *   await tx.query('INSERT INTO word_counts (word, n) VALUES ($1, $2) ' +
 *     'ON CONFLICT (word) DO UPDATE SET n = word_counts.n + EXCLUDED.n', ['kafka', 3]);
 * });
 */
export class PostgresOffsetStore implements OffsetStore<PoolClient> {
  readonly name = 'postgres';
  readonly supportsTransactions = true;
  readonly supportsState = true;

  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly address: string;
  /** The role the pool logs in as. */
  private readonly user: string | undefined;
  private readonly qualifiedTable: string;
  private readonly schema: string;
  private readonly table: string;
  private readonly stateTable: string;
  private readonly qualifiedStateTable: string;
  /** Creation of the state and dead-letter tables, started on first use. */
  private readonly tablesReady = new Map<'state' | 'deadLetters', Promise<void>>();
  private readonly qualifiedDeadLetterTable: string;
  private readonly lifecycle: StoreClient<Pool>;
  private readonly endpoint: PostgresEndpoint;

  constructor(options: PostgresOffsetStoreOptions = {}) {
    const {
      connectionString,
      pool,
      schema = DEFAULT_SCHEMA,
      table = DEFAULT_TABLE,
      stateTable = DEFAULT_STATE_TABLE,
      connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
    } = options;
    if (connectionString !== undefined && pool !== undefined) {
      throw new ConfigError('connectionString', connectionString, 'must not be given together with pool', 'Pass either connectionString or pool.');
    }
    if (pool !== undefined && !isPool(pool)) {
      throw new ConfigError('pool', pool, 'must be a pg Pool', "Pass `new Pool(…)` from 'pg', or a connectionString.");
    }
    if (connectionString !== undefined) checkConnectionString(connectionString);
    checkIdentifier('schema', schema, DEFAULT_SCHEMA);
    checkIdentifier('table', table, DEFAULT_TABLE);
    checkIdentifier('stateTable', stateTable, DEFAULT_STATE_TABLE);
    if (stateTable === table) {
      throw new ConfigError('stateTable', stateTable, 'must differ from table', `Omit it for "${DEFAULT_STATE_TABLE}".`);
    }
    if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs <= 0) {
      throw new ConfigError('connectTimeoutMs', connectTimeoutMs, 'must be a positive integer', 'Pass a number of milliseconds, e.g. 10000.');
    }
    this.schema = schema;
    this.table = table;
    this.qualifiedTable = `${escapeIdentifier(schema)}.${escapeIdentifier(table)}`;
    this.stateTable = stateTable;
    this.qualifiedStateTable = `${escapeIdentifier(schema)}.${escapeIdentifier(stateTable)}`;
    this.qualifiedDeadLetterTable = `${escapeIdentifier(schema)}.${escapeIdentifier(DEAD_LETTER_TABLE)}`;
    this.ownsPool = pool === undefined;
    if (pool === undefined) {
      const url = connectionString ?? DEFAULT_CONNECTION_STRING;
      this.address = addressOf(url);
      this.user = userOf(url);
      this.pool = new Pool({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
      // An idle connection that the server drops (restart, failover) emits 'error' on the pool;
      // unhandled, that would crash the process. The next query gets a fresh connection instead.
      this.pool.on('error', () => undefined);
    } else {
      this.pool = pool;
      this.address = `${pool.options.host ?? '127.0.0.1'}:${pool.options.port ?? 5432}`;
      this.user = typeof pool.options.user === 'string' ? pool.options.user : undefined;
    }
    // pg-pool takes its error listener off a client while it is checked out, so a server that
    // goes away while the store holds one (a crash mid-transaction) would emit an unhandled
    // 'error' and end the process. The query in flight rejects anyway, and the client is then
    // released as broken.
    this.pool.on('acquire', (client) => {
      if (!client.listeners('error').includes(ignoreClientError)) client.on('error', ignoreClientError);
    });
    this.lifecycle = new StoreClient<Pool>({
      store: this.name,
      address: this.address,
      acquire: () => this.open(),
      release: async (pool) => {
        if (this.ownsPool) await pool.end();
      },
      wrap: (what, error) => postgresError(this.endpoint, what, error),
    });
    this.endpoint = { address: this.address, user: this.user, schema, table, stateTable, connectTimeoutMs };
    // The pool holds the connection string with its password: show where the store points, nothing more.
    redactedView(this, 'PostgresOffsetStore', () => ({
      address: this.address,
      user: this.user,
      table: `${this.schema}.${this.table}`,
      state: this.lifecycle.state,
    }));
  }

  /**
   * Waits for the server (up to `connectTimeoutMs`), then creates the schema and table if they
   * are missing, under an advisory lock: `CREATE … IF NOT EXISTS` alone can fail with a
   * duplicate-key error when two processes start at once.
   */
  connect(): Promise<void> {
    return this.lifecycle.connect();
  }

  /** Ends the pool this store created (not a pool passed as `pool`). Idempotent. */
  close(): Promise<void> {
    return this.lifecycle.close();
  }

  private async open(): Promise<Pool> {
    try {
      const client = await firstConnection(this.pool, this.endpoint);
      try {
        await this.inTransaction(client, 'create the offsets table', async () => {
          await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`dstream_offsets:${this.schema}.${this.table}`]);
          const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.schema]);
          if (rowCount === 0) await client.query(`CREATE SCHEMA ${escapeIdentifier(this.schema)}`);
          await client.query(offsetsTableDdl(this.qualifiedTable));
          await checkOffsetColumns(client, this.endpoint);
        });
      } finally {
        client.release();
      }
    } catch (error) {
      // The statements above run on the bare client: their errors are pg's, wrapped here.
      throw postgresError(this.endpoint, 'create the offsets table', error);
    }
    return this.pool;
  }

  /** Stored offsets of these partitions, in one query. */
  load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    return this.lifecycle.use(async () => {
      const { rows } = await this.call('load offsets', () =>
        this.pool.query<OffsetRow>(loadOffsetsSql(this.qualifiedTable), [
          group,
          partitions.map(({ topic }) => topic),
          partitions.map(({ partition }) => partition),
        ]),
      );
      return new Map(rows.map((row) => [topicPartitionKey(row.topic, row.partition), this.parseRow(group, row)]));
    });
  }

  /** Compare-and-set commit of all partitions (and `state`) in one database transaction. */
  commit(group: string, commits: readonly OffsetCommit[], state?: StateWrite): Promise<void> {
    return this.lifecycle.use(async () => {
      await this.transaction(group, commits, async () => undefined, state === undefined ? undefined : () => state);
    });
  }

  /** The stored state of `operator`, in one query of the state table. */
  loadState(group: string, operator: string): Promise<LoadedState | undefined> {
    return this.lifecycle.use(async () => {
      await this.ensureTable('state');
      const { rows } = await this.call('load state', () =>
        this.pool.query<StateRow>(loadStateSql(this.qualifiedStateTable), [group, operator]),
      );
      const meta = rows.find((row) => row.key === STATE_META_FIELD);
      if (meta === undefined) return undefined;
      const entries: (readonly [unknown, unknown])[] = [];
      for (const row of rows) if (row.key !== STATE_META_FIELD) entries.push(decodeStateRecord(operator, row.record));
      return { ...decodeStateMeta(operator, meta.record), entries };
    });
  }

  /** The state names of `group`: the distinct operators of its rows in the state table. */
  listState(group: string): Promise<string[]> {
    return this.lifecycle.use(async () => {
      await this.ensureTable('state');
      const { rows } = await this.call('list state', () =>
        this.pool.query<{ operator: string }>(listStateSql(this.qualifiedStateTable), [group]),
      );
      return rows.map((row) => row.operator);
    });
  }

  /** Deletes the rows of `operator` (a state name, see `listState`). */
  deleteState(group: string, operator: string): Promise<void> {
    return this.lifecycle.use(async () => {
      await this.ensureTable('state');
      await this.call('delete state', () =>
        this.pool.query(deleteOperatorStateSql(this.qualifiedStateTable), [group, operator]),
      );
    });
  }

  /**
   * Runs `work` with a `PoolClient` inside BEGIN … COMMIT and writes the offsets in the same
   * transaction. The offset rows are locked and checked before `work` runs, so a stale batch
   * fails fast with `StaleOffsetError` and concurrent committers of a partition queue behind
   * each other. Anything `work` throws, or a stale offset, rolls everything back; what `work`
   * threw is rethrown as is. Don't issue COMMIT or ROLLBACK on `tx` yourself. With `state`, its
   * changes are upserted into and deleted from the state table in the same transaction.
   */
  transaction<T>(
    group: string,
    commits: readonly OffsetCommit[],
    work: (tx: PoolClient) => Promise<T>,
    state?: () => StateWrite,
  ): Promise<T> {
    return this.lifecycle.use(async () => {
      if (state !== undefined) await this.ensureTable('state');
      const client = await this.call('get a connection', () => this.pool.connect());
      let isBroken = false;
      try {
        return await this.inTransaction(client, 'commit offsets', async () => {
          await this.checkExpected(client, group, commits);
          const result = await work(client);
          await this.writeOffsets(client, group, commits);
          if (state !== undefined) await this.writeState(client, group, state());
          return result;
        });
      } catch (error) {
        // After a stale offset the ROLLBACK leaves the connection clean; after anything else (a lost
        // connection, a failed COMMIT, an error of the user's) it is dropped rather than reused.
        isBroken = !(error instanceof StaleOffsetError);
        throw error;
      } finally {
        client.release(isBroken);
      }
    });
  }

  /**
   * Keeps dead letters in `<schema>.dstream_dead_letters`, one row per (group_id, topic,
   * partition, offset): a letter written again changes nothing (ON CONFLICT DO NOTHING). The
   * table is created on first use, under an advisory lock, outside any transaction. Given `tx`,
   * the rows are inserted in that transaction and commit with its offsets.
   */
  writeDeadLetters(group: string, letters: readonly DeadLetter[], tx?: PoolClient): Promise<void> {
    return this.lifecycle.use(async () => {
      await this.ensureTable('deadLetters');
      const insert = (client: Pick<PoolClient, 'query'>) =>
        client.query(insertDeadLettersSql(this.qualifiedDeadLetterTable), [group, ...deadLetterColumns(letters)]);
      await this.call('write dead letters', () => insert(tx ?? this.pool));
    });
  }

  /** The dead letters kept for `group`, in (topic, partition, offset) order. */
  loadDeadLetters(group: string): Promise<DeadLetter[]> {
    return this.lifecycle.use(async () => {
      await this.ensureTable('deadLetters');
      const { rows } = await this.call('load dead letters', () =>
        this.pool.query<DeadLetterRow>(loadDeadLettersSql(this.qualifiedDeadLetterTable), [group]),
      );
      return rows.map(toDeadLetter);
    });
  }

  /** Upserts and deletes the rows of a batch's state changes, in two statements. */
  private async writeState(client: PoolClient, group: string, state: StateWrite): Promise<void> {
    const { upserts, removals } = stateColumns(state);
    if (upserts[0].length > 0) {
      await this.call('write state', () => client.query(upsertStateSql(this.qualifiedStateTable), [group, ...upserts]));
    }
    if (removals[0].length > 0) {
      await this.call('delete state', () => client.query(deleteStateKeysSql(this.qualifiedStateTable), [group, ...removals]));
    }
  }

  /**
   * Creates the state or the dead-letter table if it is missing, once per store instance, under an
   * advisory lock (as `connect` does for the offsets table). Outside any commit's transaction, so
   * that a batch's locks never wait on DDL.
   */
  private ensureTable(which: 'state' | 'deadLetters'): Promise<void> {
    let ready = this.tablesReady.get(which);
    if (ready === undefined) {
      const [what, lockKey, ddl] =
        which === 'state'
          ? ['create the state table', `dstream_state:${this.schema}.${this.stateTable}`, stateTableDdl(this.qualifiedStateTable)]
          : ['create the dead-letter table', `dstream_offsets:${this.schema}.${DEAD_LETTER_TABLE}`, deadLetterTableDdl(this.qualifiedDeadLetterTable)];
      ready = this.call(what, () => createTableLocked(this.pool, lockKey, ddl)).catch((error: unknown) => {
        this.tablesReady.delete(which);
        throw error;
      });
      this.tablesReady.set(which, ready);
    }
    return ready;
  }

  /** Locks the commit's rows and rejects with `StaleOffsetError` at the first mismatch. */
  private async checkExpected(client: PoolClient, group: string, commits: readonly OffsetCommit[]): Promise<void> {
    if (commits.length === 0) return;
    checkExpectedOffsets(this.name, group, commits, await this.storedOffsets(client, group, commits, 'FOR UPDATE'));
  }

  /**
   * Conditional writes, with row counts checked: the lock taken in `checkExpected` covers rows that
   * existed; a first commit racing another first commit is caught by `ON CONFLICT DO NOTHING`
   * inserting fewer rows than asked.
   */
  private async writeOffsets(client: PoolClient, group: string, commits: readonly OffsetCommit[]): Promise<void> {
    const updates = commits.filter(({ expectedOffset }) => expectedOffset !== null);
    const inserts = commits.filter(({ expectedOffset }) => expectedOffset === null);
    let written = 0;
    if (updates.length > 0) {
      const { rowCount } = await this.call('update offsets', () =>
        client.query(updateOffsetsSql(this.qualifiedTable), [
          group,
          ...offsetColumns(updates),
          updates.map(({ expectedOffset }) => String(expectedOffset)),
        ]),
      );
      written += rowCount ?? 0;
    }
    if (inserts.length > 0) {
      const { rowCount } = await this.call('insert offsets', () =>
        client.query(insertOffsetsSql(this.qualifiedTable), [group, ...offsetColumns(inserts)]),
      );
      written += rowCount ?? 0;
    }
    if (written === commits.length) return;
    // Some partition changed under us: name it with the value another writer committed.
    const stored = await this.storedOffsets(client, group, commits, '');
    checkExpectedOffsets(this.name, group, commits, stored);
    const [{ range, expectedOffset }] = commits;
    throw new StaleOffsetError(this.name, group, range.topic, range.partition, expectedOffset, stored.get(range.key) ?? null);
  }

  private async storedOffsets(
    client: PoolClient,
    group: string,
    commits: readonly OffsetCommit[],
    lock: 'FOR UPDATE' | '',
  ): Promise<Map<string, number>> {
    const { rows } = await this.call('read offsets', () =>
      client.query<OffsetRow>(readOffsetsSql(this.qualifiedTable, lock), [
        group,
        commits.map(({ range }) => range.topic),
        commits.map(({ range }) => range.partition),
      ]),
    );
    return new Map(rows.map((row) => [topicPartitionKey(row.topic, row.partition), this.parseRow(group, row)]));
  }

  /** BEGIN, `body`, COMMIT; ROLLBACK when anything throws, rethrowing what was thrown. */
  private async inTransaction<T>(client: PoolClient, what: string, body: () => Promise<T>): Promise<T> {
    await this.call(what, () => client.query('BEGIN'));
    let result: T;
    try {
      result = await body();
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    await this.call(what, () => client.query('COMMIT'));
    return result;
  }

  /** The row's offset, or an `OffsetStoreError` naming the row and the value. */
  private parseRow(group: string, row: OffsetRow): number {
    return parseStoredOffset(
      this.name,
      row.next_offset,
      `${this.schema}.${this.table} row (group_id ${JSON.stringify(group)}, topic ${JSON.stringify(row.topic)}, partition ${row.partition}) next_offset`,
      'fix or delete the row to resume',
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

/** Listens to a checked-out client's 'error' events, which its failing query reports too. */
function ignoreClientError(): void {}
