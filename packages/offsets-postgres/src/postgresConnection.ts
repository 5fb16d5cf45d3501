/**
 * How `PostgresOffsetStore` reaches its server: the first connection (waiting for a server still
 * starting), the wrapping of pg errors (`OffsetStoreError` with `retriable` from the SQLSTATE, or
 * `AuthenticationError` for a refusal), the check of an existing offsets table, and the checks of
 * the options that name the server and the tables.
 */
import { DatabaseError, escapeIdentifier, type Pool, type PoolClient } from 'pg';
import { AuthenticationError, ConfigError, driverError, OffsetStoreError } from '@dstream/core';

const STORE = 'postgres';
export const DEFAULT_CONNECTION_STRING = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Where a store points and what its messages name: never a password. */
export interface PostgresEndpoint {
  readonly address: string;
  /** The role the pool logs in as. */
  readonly user: string | undefined;
  readonly schema: string;
  readonly table: string;
  readonly stateTable: string;
  readonly connectTimeoutMs: number;
}

/** Unquoted PostgreSQL identifiers, so names in errors and in psql read the same as in options. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/**
 * SQLSTATEs after which the same statement may succeed: connection exceptions (08), serialization
 * failures and deadlocks (40001, 40P01), insufficient resources (53), server shutting down or
 * starting (57P01-57P03).
 */
const RETRIABLE_SQLSTATE = /^(08|53|40001$|40P01$|57P0[123]$)/;
/**
 * SQLSTATEs of a refused client: invalid authorization specification and invalid password (28…),
 * insufficient privilege (42501: the role may not create or write the offsets table).
 */
const REFUSED_SQLSTATE = /^(28|42501$)/;
/** pg's own errors when the server asks for a password and none (or no string) was given. */
const MISSING_PASSWORD = /client password must be a string|password authentication|no password supplied/i;

/** The columns the store reads and writes in the offsets table. */
const OFFSET_COLUMNS = ['group_id', 'topic', 'partition', 'next_offset', 'updated_at'] as const;

/** The pool's first connection, retried until `connectTimeoutMs` so a server still starting is waited for. */
export async function firstConnection(pool: Pool, endpoint: PostgresEndpoint): Promise<PoolClient> {
  const deadline = Date.now() + endpoint.connectTimeoutMs;
  for (let delayMs = 50; ; delayMs = Math.min(delayMs * 2, 1000)) {
    try {
      return await pool.connect();
    } catch (error) {
      // A server that answered and refused (no such database, bad password) won't change its mind.
      const missing = missingDatabase(error);
      if (missing !== undefined) {
        throw new OffsetStoreError(
          STORE,
          `connect at ${endpoint.address} failed: database ${JSON.stringify(missing)} does not exist (SQLSTATE 3D000). ` +
            `Create it (CREATE DATABASE ${escapeIdentifier(missing)};), or fix the database name of the connectionString`,
          { retriable: false, cause: driverError(error) },
        );
      }
      const wrapped = postgresError(endpoint, 'connect', error);
      if (!wrapped.retriable) throw wrapped;
      if (Date.now() + delayMs >= deadline) {
        throw new OffsetStoreError(
          STORE,
          `no PostgreSQL server accepted a connection at ${endpoint.address} within ${endpoint.connectTimeoutMs} ms: ${messageOf(error)}. ` +
            `Start PostgreSQL there, or fix the host and port of the connectionString (or of the pool's options); ` +
            `raise connectTimeoutMs if the server is slow to come up`,
          { retriable: true, cause: driverError(error) },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * An offsets table that existed before, made by something else (or by hand, with other names),
 * would fail every load and commit with a bare "column does not exist": refuse it at connect,
 * naming the table, the columns it lacks and the fix.
 */
export async function checkOffsetColumns(client: PoolClient, endpoint: PostgresEndpoint): Promise<void> {
  const { rows } = await client.query<{ column_name: string }>(
    'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
    [endpoint.schema, endpoint.table],
  );
  const present = rows.map((row) => row.column_name);
  const missing = OFFSET_COLUMNS.filter((column) => !present.includes(column));
  if (missing.length === 0) return;
  throw new OffsetStoreError(
    STORE,
    `the offsets table ${endpoint.schema}.${endpoint.table} at ${endpoint.address} lacks column${missing.length === 1 ? '' : 's'} ` +
      `${missing.join(', ')} (it has ${present.join(', ') || 'none'}): it was not made by this store. ` +
      `Pass another table (the store creates it), or rename or drop this one if nothing else uses it`,
    { retriable: false },
  );
}

/**
 * pg errors become `OffsetStoreError`, retriable for connection-level failures (see
 * `RETRIABLE_SQLSTATE`), or `AuthenticationError` when the server refuses the role or its
 * password (`REFUSED_SQLSTATE`). The cause is a `driverError` copy.
 */
export function postgresError(endpoint: PostgresEndpoint, what: string, error: unknown): OffsetStoreError | AuthenticationError {
  if (error instanceof OffsetStoreError || error instanceof AuthenticationError) return error;
  const code = error instanceof DatabaseError ? error.code : undefined;
  const detail = code === undefined ? messageOf(error) : `${messageOf(error)} (SQLSTATE ${code})`;
  if ((code !== undefined && REFUSED_SQLSTATE.test(code)) || (code === undefined && MISSING_PASSWORD.test(messageOf(error)))) {
    return new AuthenticationError(
      STORE,
      endpoint.address,
      endpoint.user,
      `${what}: ${detail}`,
      code === '42501'
        ? `Grant the role what the store needs on ${endpoint.schema}.${endpoint.table} and ${endpoint.schema}.${endpoint.stateTable} (CREATE on the schema once, SELECT, INSERT, UPDATE, DELETE)`
        : /^role ".*" does not exist$/.test(messageOf(error))
          ? `Create the role (CREATE ROLE ${escapeIdentifier(endpoint.user ?? '')} LOGIN;) and grant it what the store needs, ` +
            'or fix the user name of the connectionString (or the pool\'s options)'
          : "Check the user name and password of the connectionString (or the pool's options) and the server's " +
            'pg_hba.conf; trying again with the same credentials fails the same way',
      { cause: driverError(error) },
    );
  }
  return new OffsetStoreError(STORE, `${what} at ${endpoint.address} failed: ${detail}`, {
    retriable: code === undefined || RETRIABLE_SQLSTATE.test(code),
    cause: driverError(error),
  });
}

/** The database named by a "database … does not exist" refusal (SQLSTATE 3D000), if that is what `error` is. */
export function missingDatabase(error: unknown): string | undefined {
  if (!(error instanceof DatabaseError) || error.code !== '3D000') return undefined;
  return /^database "(.*)" does not exist$/.exec(error.message)?.[1] ?? undefined;
}


export function checkIdentifier(option: string, value: unknown, fallback: string): void {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new ConfigError(
      option,
      value,
      'must be an unquoted PostgreSQL identifier (letters, digits, underscores; not starting with a digit; at most 63)',
      `Pass e.g. "${fallback}".`,
    );
  }
}

export function checkConnectionString(value: unknown): void {
  let parsed: URL | undefined;
  try {
    parsed = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')) {
    throw new ConfigError(
      'connectionString',
      value,
      'must be a postgres:// or postgresql:// URL',
      `Pass e.g. "${DEFAULT_CONNECTION_STRING}".`,
    );
  }
}

/** host:port/database of a connection string, never its password. */
export function addressOf(url: string): string {
  const { hostname, port, pathname } = new URL(url);
  return `${hostname || '127.0.0.1'}:${port || 5432}${pathname}`;
}

/** The user name of a connection string, if it has one. */
export function userOf(url: string): string | undefined {
  const { username } = new URL(url);
  return username === '' ? undefined : decodeURIComponent(username);
}

export function isPool(value: unknown): value is Pool {
  const candidate = value as Partial<Pool> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.connect === 'function' && typeof candidate.query === 'function';
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message || error.constructor.name : String(error);
}
