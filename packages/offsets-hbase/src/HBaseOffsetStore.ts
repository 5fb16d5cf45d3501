import { randomUUID } from 'node:crypto';
import {
  checkExpectedOffsets,
  ConfigError,
  driverError,
  OffsetStoreError,
  parseStoredOffset,
  redactedView,
  StoreClient,
  topicPartitionKey,
} from '@dstream/core';
import type { OffsetCommit, OffsetStore, StoredOffsets, TopicPartition } from '@dstream/core';
import { checkCount, checkTopic, checkUrl, groupRowKey, historyPrefix } from './hbaseRowKeys';
import { fromBase64, pad, TIME_DIGITS, toBase64 } from './hbaseRowKeys';

/** Options of `HBaseOffsetStore`. */
export interface HBaseOffsetStoreOptions {
  /** Base URL of HBase's REST gateway (`hbase rest start`), e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Namespace of the offsets table, created on first use. Default `dstream`. */
  readonly namespace?: string;
  /** Offsets table, created on first use. Default `offsets`. */
  readonly table?: string;
  /** The table's column family. Default `o`. */
  readonly columnFamily?: string;
  /**
   * History rows (`<topic>:<group>:<batchTime>`) kept per topic and group, so an operator can
   * rewind to an earlier batch; 0 keeps none. Default 100.
   */
  readonly historySize?: number;
  /** Bound on each HTTP request to the gateway. Default 10 000. */
  readonly requestTimeoutMs?: number;
}

/** One history row: the offsets of every partition of a topic after the commit made at `batchTime`. */
export interface HBaseOffsetHistoryEntry {
  readonly topic: string;
  /** Commit time in epoch milliseconds: the last part of the row key, strictly increasing per topic and group. */
  readonly batchTime: number;
  /** The group row's version that commit wrote. */
  readonly version: number;
  /** Next offset to read by `topic:partition`. */
  readonly offsets: StoredOffsets;
}

/** A cell as the REST gateway's JSON carries it: column and value in base64. */
interface RestCell {
  readonly column: string;
  readonly $: string;
  readonly timestamp?: number;
}

interface RestRow {
  readonly key: string;
  readonly Cell?: readonly RestCell[];
}

/** The group row as read: partition offsets, and the cells compare-and-set checks. */
interface GroupRow {
  /** `topic:partition` → next offset to read. */
  readonly offsets: Map<string, number>;
  /** The version cell; null when the row does not exist. */
  readonly version: number | null;
  /** The last commit's batch time (0 when none). */
  readonly batchTime: number;
  /** The id of the commit that wrote the row. */
  readonly commitId: string | null;
}

const STORE = 'hbase';
const DEFAULT_NAMESPACE = 'dstream';
const DEFAULT_TABLE = 'offsets';
const DEFAULT_FAMILY = 'o';
const DEFAULT_HISTORY_SIZE = 100;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Qualifiers of the group row besides the `<topic>:<partition>` ones (which always hold a colon). */
const VERSION = 'version';
const BATCH_TIME = 'batchTime';
const COMMIT_ID = 'commit';
/** Conflicts that leave every expected offset in place are retried this many times in all. */
const MAX_WRITE_ATTEMPTS = 5;
const DECIMAL = /^\d+$/;
/** Table, namespace and family names HBase accepts (a subset: no `:` or `/`, no leading `.` or `-`). */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/**
 * An `OffsetStore` on HBase, through HBase's REST gateway, in the row layout Spark Streaming jobs
 * use to keep Kafka offsets in HBase:
 *
 * - one group row `group:<group>` holds every partition's next offset to read in a column
 *   `<topic>:<partition>`, plus a `version` cell that every commit checks and bumps;
 * - history rows `<topic>:<group>:<batchTime>`, one column per partition, keep the offsets after
 *   each of the last `historySize` commits, so an operator can `rewind` to a batch.
 *
 * A commit reads the group row, checks each partition's expected offset against it, and writes all
 * partitions with one check-and-put (`PUT …?check=put`) conditioned on the `version` it read: a
 * writer that got in between bumped the version, so the put is refused and the commit is reported
 * stale. One row and one conditional put make a commit atomic across all its partitions and
 * topics. HBase has no transaction that could also carry a job's output, so there is no
 * `transaction`: exactly-once needs `idempotentOutput`.
 *
 * @example
 * const store = new HBaseOffsetStore({ url: 'http://127.0.0.1:8080' });
 * await store.connect();
 * await store.commit('wordcount', commitsFromRanges(batch.offsetRanges));
 * await store.close();
 */
export class HBaseOffsetStore implements OffsetStore {
  readonly name = STORE;
  readonly supportsTransactions = false;
  private readonly url: string;
  private readonly namespace: string;
  private readonly table: string;
  private readonly family: string;
  private readonly historySize: number;
  private readonly requestTimeoutMs: number;
  /** HTTP keeps no connection to release: the life cycle is what every store has. */
  private readonly lifecycle: StoreClient<void>;

  constructor(options: HBaseOffsetStoreOptions) {
    this.url = checkUrl(options?.url);
    this.namespace = checkName('namespace', options.namespace ?? DEFAULT_NAMESPACE);
    this.table = checkName('table', options.table ?? DEFAULT_TABLE);
    this.family = checkName('columnFamily', options.columnFamily ?? DEFAULT_FAMILY);
    this.historySize = checkCount('historySize', options.historySize ?? DEFAULT_HISTORY_SIZE, 0, 'Pass e.g. 100, or 0 to keep no history.');
    this.requestTimeoutMs = checkCount('requestTimeoutMs', options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, 1, 'Pass e.g. 10000.');
    redactedView(this, 'HBaseOffsetStore', () => ({
      url: this.url,
      table: this.tableName,
      columnFamily: this.family,
      historySize: this.historySize,
      state: this.lifecycle.state,
    }));
    this.lifecycle = new StoreClient<void>({ store: STORE, address: this.url, acquire: () => this.ensureTable(), release: async () => undefined });
  }

  /** `namespace:table`, as HBase names the table. */
  get tableName(): string {
    return `${this.namespace}:${this.table}`;
  }

  /**
   * Checks that the gateway answers and creates the namespace and the table where missing.
   * An unreachable gateway rejects with a retriable `OffsetStoreError` after `requestTimeoutMs`.
   */
  connect(): Promise<void> {
    return this.lifecycle.connect();
  }

  /** Closes the store. Idempotent; `fetch` keeps no connection that needs ending. */
  close(): Promise<void> {
    return this.lifecycle.close();
  }

  load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    return this.lifecycle.use(async () => {
      partitions.forEach(({ topic }) => checkTopic(topic));
      const row = await this.readGroupRow(group);
      const offsets = new Map<string, number>();
      for (const { topic, partition } of partitions) {
        const key = topicPartitionKey(topic, partition);
        const offset = row.offsets.get(key);
        if (offset !== undefined) offsets.set(key, offset);
      }
      return offsets;
    });
  }

  commit(group: string, commits: readonly OffsetCommit[]): Promise<void> {
    return this.lifecycle.use(async () => {
      if (commits.length === 0) return;
      commits.forEach(({ range }) => checkTopic(range.topic));
      let row = await this.readGroupRow(group);
      for (let attempt = 1; ; attempt += 1) {
        checkExpectedOffsets(STORE, group, commits, row.offsets);
        const next = new Map(row.offsets);
        for (const { range } of commits) next.set(topicPartitionKey(range.topic, range.partition), range.untilOffset);
        const written = await this.writeGroupRow(group, row, next, commits.map(({ range }) => range.topic));
        if (written !== null) {
          await this.writeHistory(group, written, new Set(commits.map(({ range }) => range.topic)));
          return;
        }
        // Refused: another writer bumped the version. If it left every expected offset in place
        // (it committed other partitions, or the same values), the loop writes again on top of it.
        row = await this.readGroupRow(group);
        if (attempt >= MAX_WRITE_ATTEMPTS) {
          throw new OffsetStoreError(
            STORE,
            `commit for group ${group} did not go through in ${MAX_WRITE_ATTEMPTS} attempts: row ${groupRowKey(group)} of ` +
              `${this.tableName} kept changing without leaving the expected offsets; check that no other process commits for this group`,
            { retriable: true },
          );
        }
      }
    });
  }

  /**
   * The history rows of `topic` for `group`, newest first: the offsets after each of the last
   * `historySize` commits that included the topic.
   */
  history(group: string, topic: string): Promise<HBaseOffsetHistoryEntry[]> {
    return this.lifecycle.use(async () => {
      checkTopic(topic);
      const prefix = `${historyPrefix(group, topic)}`;
      const rows = await this.scanPrefix(prefix);
      const entries: HBaseOffsetHistoryEntry[] = [];
      for (const row of rows) {
        const key = fromBase64(row.key);
        const time = key.slice(prefix.length);
        if (!DECIMAL.test(time) || time.length !== TIME_DIGITS) continue;
        const cells = this.cellsOf(row, key);
        const version = cells.get(VERSION);
        const offsets = new Map<string, number>();
        for (const [qualifier, value] of cells) {
          if (qualifier.startsWith(`${topic}:`)) offsets.set(qualifier, parseOffset(this.tableName, key, qualifier, value));
        }
        entries.push({ topic, batchTime: Number(time), version: version === undefined ? 0 : parseOffset(this.tableName, key, VERSION, version), offsets });
      }
      return entries.sort((a, b) => b.batchTime - a.batchTime).slice(0, this.historySize);
    });
  }

  /**
   * Sets `topic`'s offsets for `group` back to those of the history row written at `batchTime`,
   * with the same compare-and-set as a commit. Run it while the job is stopped: a running job's
   * next commit finds offsets it did not expect and stops with `StaleOffsetError`. Partitions of
   * the topic that the history row does not name are left as they are.
   */
  rewind(group: string, topic: string, batchTime: number): Promise<StoredOffsets> {
    return this.lifecycle.use(async () => {
      const entry = (await this.history(group, topic)).find((candidate) => candidate.batchTime === batchTime);
      if (entry === undefined) {
        throw new OffsetStoreError(
          STORE,
          `no history row ${historyPrefix(group, topic)}${pad(batchTime)} in ${this.tableName}; ` +
            `list the batch times with history(group, topic) and pass one of them`,
        );
      }
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt += 1) {
        const row = await this.readGroupRow(group);
        const next = new Map(row.offsets);
        for (const [key, offset] of entry.offsets) next.set(key, offset);
        const written = await this.writeGroupRow(group, row, next, [topic]);
        if (written !== null) {
          await this.writeHistory(group, written, new Set([topic]));
          return entry.offsets;
        }
      }
      throw new OffsetStoreError(
        STORE,
        `rewind of group ${group} did not go through in ${MAX_WRITE_ATTEMPTS} attempts: row ${groupRowKey(group)} kept changing; stop the job that commits for this group first`,
        { retriable: true },
      );
    });
  }

  // --- rows -----------------------------------------------------------------

  private async readGroupRow(group: string): Promise<GroupRow> {
    const key = groupRowKey(group);
    const response = await this.send('GET', `/${this.tableName}/${encodeURIComponent(key)}`, `reading row ${key}`, { allow: [404] });
    if (response.status === 404) return { offsets: new Map(), version: null, batchTime: 0, commitId: null };
    const rows = parseRows(await response.text(), key);
    const cells = rows.length === 0 ? new Map<string, string>() : this.cellsOf(rows[0], key);
    const offsets = new Map<string, number>();
    let version: number | null = null;
    let batchTime = 0;
    let commitId: string | null = null;
    for (const [qualifier, value] of cells) {
      if (qualifier === VERSION) version = parseOffset(this.tableName, key, qualifier, value);
      else if (qualifier === BATCH_TIME) batchTime = parseOffset(this.tableName, key, qualifier, value);
      else if (qualifier === COMMIT_ID) commitId = value;
      else if (qualifier.includes(':')) offsets.set(qualifier, parseOffset(this.tableName, key, qualifier, value));
    }
    return { offsets, version, batchTime, commitId };
  }

  /**
   * Check-and-put of the group row: the partitions in `next` that belong to `topics`, a bumped
   * version, the batch time and a commit id, only if the version is still the one in `row`.
   * Returns the row as written, or null when the check failed. A request whose outcome is unknown
   * (the connection dropped after sending) is settled by reading the commit id back.
   */
  private async writeGroupRow(group: string, row: GroupRow, next: Map<string, number>, topics: readonly string[]): Promise<GroupRow | null> {
    const key = groupRowKey(group);
    const version = (row.version ?? 0) + 1;
    const batchTime = Math.max(Date.now(), row.batchTime + 1);
    const commitId = randomUUID();
    const written = new Set(topics);
    const cells: Array<[string, string]> = [];
    for (const [qualifier, offset] of next) {
      if (written.has(qualifier.slice(0, qualifier.lastIndexOf(':')))) cells.push([qualifier, String(offset)]);
    }
    cells.push([BATCH_TIME, String(batchTime)], [COMMIT_ID, commitId], [VERSION, String(version)]);
    // The last cell is the one the gateway checks: the version as read ('' = no such cell yet).
    cells.push([VERSION, row.version === null ? '' : String(row.version)]);
    const path = `/${this.tableName}/${encodeURIComponent(key)}?check=put`;
    let status: number;
    try {
      status = (await this.send('PUT', path, `committing row ${key}`, { allow: [304], body: this.cellSet(key, cells) })).status;
    } catch (error) {
      if (!(error instanceof OffsetStoreError) || !error.retriable) throw error;
      const now = await this.readGroupRow(group).catch(() => {
        throw new OffsetStoreError(
          STORE,
          `the outcome of the commit of group ${group} is unknown: the gateway did not answer (${error.message}) and row ${key} could not be read back`,
          { retriable: true, cause: error },
        );
      });
      if (now.commitId === commitId) return now;
      if (now.version === row.version) throw error;
      return null;
    }
    if (status === 304) return null;
    return { offsets: next, version, batchTime, commitId };
  }

  /**
   * Writes one history row per topic of the commit (every partition of the topic the group row
   * now holds) and drops the rows beyond `historySize`. A failure here does not undo the commit,
   * which is already in the group row; it is reported as a retriable `OffsetStoreError` only when
   * the history row itself could not be written.
   */
  private async writeHistory(group: string, row: GroupRow, topics: ReadonlySet<string>): Promise<void> {
    if (this.historySize === 0) return;
    await Promise.all(
      [...topics].map(async (topic) => {
        const key = `${historyPrefix(group, topic)}${pad(row.batchTime)}`;
        const cells: Array<[string, string]> = [];
        for (const [qualifier, offset] of row.offsets) {
          if (qualifier.startsWith(`${topic}:`)) cells.push([qualifier, String(offset)]);
        }
        cells.push([VERSION, String(row.version)]);
        await this.send('PUT', `/${this.tableName}/${encodeURIComponent(key)}`, `writing history row ${key}`, { body: this.cellSet(key, cells) });
        // Pruning scans the topic's history; doing it once every quarter of historySize commits
        // keeps at most 1.25 × historySize rows while sparing most commits the scan.
        if (row.version !== null && row.version % Math.max(1, Math.floor(this.historySize / 4)) === 0) {
          await this.pruneHistory(group, topic);
        }
      }),
    );
  }

  private async pruneHistory(group: string, topic: string): Promise<void> {
    const prefix = historyPrefix(group, topic);
    const keys = (await this.scanPrefix(prefix, VERSION))
      .map((row) => fromBase64(row.key))
      .filter((key) => key.length === prefix.length + TIME_DIGITS && DECIMAL.test(key.slice(prefix.length)))
      .sort();
    const extra = keys.slice(0, Math.max(0, keys.length - this.historySize));
    for (const key of extra) {
      await this.send('DELETE', `/${this.tableName}/${encodeURIComponent(key)}`, `deleting history row ${key}`, { allow: [404] });
    }
  }

  /** Every row whose key starts with `prefix` (the gateway's row-key suffix glob). */
  private async scanPrefix(prefix: string, qualifier?: string): Promise<RestRow[]> {
    const column = qualifier === undefined ? '' : `/${encodeURIComponent(`${this.family}:${qualifier}`)}`;
    const response = await this.send('GET', `/${this.tableName}/${encodeURIComponent(prefix)}*${column}`, `scanning rows ${prefix}*`, {
      allow: [404],
    });
    if (response.status === 404) return [];
    return parseRows(await response.text(), `${prefix}*`);
  }

  /** Cells of this store's column family in `row`, by qualifier. */
  private cellsOf(row: RestRow, key: string): Map<string, string> {
    const cells = new Map<string, string>();
    const prefix = `${this.family}:`;
    for (const cell of row.Cell ?? []) {
      if (typeof cell.column !== 'string' || typeof cell.$ !== 'string') {
        throw new OffsetStoreError(STORE, `row ${key} of ${this.tableName} came back without column or value; is ${this.url} HBase's REST gateway?`);
      }
      const column = fromBase64(cell.column);
      if (column.startsWith(prefix)) cells.set(column.slice(prefix.length), fromBase64(cell.$));
    }
    return cells;
  }

  private cellSet(key: string, cells: ReadonlyArray<[string, string]>): string {
    return JSON.stringify({
      Row: [{ key: toBase64(key), Cell: cells.map(([qualifier, value]) => ({ column: toBase64(`${this.family}:${qualifier}`), $: toBase64(value) })) }],
    });
  }

  // --- table ----------------------------------------------------------------

  private async ensureTable(): Promise<void> {
    const schema = `/${this.tableName}/schema`;
    // A missing table: 404 from most gateway versions, 500 (TableNotFoundException) from some.
    const existing = await this.send('GET', schema, `reading the schema of ${this.tableName}`, { allow: [404, 500] });
    if (existing.status === 200) {
      const body = (await existing.json().catch(() => ({}))) as { ColumnSchema?: Array<{ name?: string }> };
      if (!(body.ColumnSchema ?? []).some((family) => family.name === this.family)) {
        throw new ConfigError(
          'columnFamily',
          this.family,
          `must be a column family of table ${this.tableName}, which has ${(body.ColumnSchema ?? []).map((family) => family.name).join(', ') || 'none'}`,
          'Pass one of its families, or another table name so that the store creates its own.',
        );
      }
      return;
    }
    await existing.body?.cancel();
    const namespace = await this.send('GET', `/namespaces/${this.namespace}`, `reading namespace ${this.namespace}`, { allow: [404, 500] });
    await namespace.body?.cancel();
    if (namespace.status !== 200) {
      // 403: created by a concurrent connect between our read and this request.
      await this.send('POST', `/namespaces/${this.namespace}`, `creating namespace ${this.namespace}`, { allow: [403], body: '' });
    }
    await this.send('PUT', schema, `creating table ${this.tableName}`, {
      body: JSON.stringify({ name: this.tableName, ColumnSchema: [{ name: this.family, VERSIONS: '1' }] }),
    });
  }

  // --- HTTP -----------------------------------------------------------------

  /**
   * One request to the gateway. Statuses in `allow` and 2xx return the response; a refused
   * connection, a timeout or a 5xx is a retriable `OffsetStoreError`, any other status a
   * non-retriable one carrying the gateway's text.
   */
  private async send(
    method: string,
    path: string,
    doing: string,
    options: { allow?: readonly number[]; body?: string } = {},
  ): Promise<Response> {
    // The table is checked while connecting; only a closed store is refused then.
    if (this.lifecycle.state === 'connecting') this.lifecycle.assertNotClosed();
    else this.lifecycle.assertOpen();
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: { Accept: 'application/json', ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: options.body,
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new OffsetStoreError(
        STORE,
        timedOut
          ? `${doing}: no answer from the HBase REST gateway at ${this.url} within ${this.requestTimeoutMs} ms; check that it runs, or raise requestTimeoutMs`
          : `${doing}: the HBase REST gateway at ${this.url} is not reachable (${describeError(error)}); check that it runs and listens there`,
        { retriable: true, cause: driverError(error) },
      );
    }
    if ((response.status >= 200 && response.status < 300) || options.allow?.includes(response.status)) return response;
    const text = (await response.text().catch(() => '')).split('\n')[0].slice(0, 300);
    throw new OffsetStoreError(
      STORE,
      `${doing} in ${this.tableName} failed: the HBase REST gateway at ${this.url} answered ${response.status} ${text}`,
      { retriable: response.status >= 500 || response.status === 429 },
    );
  }
}

function parseRows(text: string, key: string): RestRow[] {
  let body: { Row?: unknown };
  try {
    body = JSON.parse(text) as { Row?: unknown };
  } catch {
    throw new OffsetStoreError(STORE, `reading ${key}: the gateway answered ${JSON.stringify(text.slice(0, 100))}, not a JSON CellSet; is the URL that of HBase's REST gateway?`);
  }
  return Array.isArray(body.Row) ? (body.Row as RestRow[]) : [];
}

function parseOffset(table: string, key: string, qualifier: string, value: string): number {
  return parseStoredOffset(
    STORE,
    value,
    `cell ${qualifier} of row ${key} in ${table}`,
    `put the next offset to read there (hbase shell: put '${table}', '${key}', '<family>:${qualifier}', '<offset>') or delete the cell`,
  );
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

function checkName(option: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new ConfigError(
      option,
      value,
      'must be 1 to 100 characters of letters, digits, "_", "." and "-", not starting with "." or "-"',
      `Pass e.g. "${option === 'namespace' ? DEFAULT_NAMESPACE : option === 'table' ? DEFAULT_TABLE : DEFAULT_FAMILY}".`,
    );
  }
  return value;
}
