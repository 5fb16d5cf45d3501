/**
 * The tables of `PostgresOffsetStore`: offsets, operator state and dead letters, each created
 * when missing under an advisory lock (`CREATE … IF NOT EXISTS` alone can fail with a
 * duplicate-key error when two processes start at once).
 */
import type { DeadLetter } from '@dstream/core';
import type { Pool } from 'pg';

/** The table of dead letters, in the store's schema: created on first use. */
export const DEAD_LETTER_TABLE = 'dstream_dead_letters';

/** One row per (group, topic, partition): the next offset to read. */
export function offsetsTableDdl(qualifiedTable: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualifiedTable} (
     group_id text NOT NULL,
     topic text NOT NULL,
     partition int NOT NULL,
     next_offset bigint NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (group_id, topic, partition))`;
}

/** One row per (group, operator, key): the key's version-1 record as jsonb (key `!meta`: kind and state version). */
export function stateTableDdl(qualifiedTable: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualifiedTable} (
     group_id text NOT NULL,
     operator text NOT NULL,
     key text NOT NULL,
     record jsonb NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (group_id, operator, key))`;
}

/** One row per (group, topic, partition, offset): a record set aside by the dead-letter policy. */
export function deadLetterTableDdl(qualifiedTable: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualifiedTable} (
     group_id text NOT NULL,
     topic text NOT NULL,
     partition int NOT NULL,
     "offset" bigint NOT NULL,
     key text,
     value text,
     operator text NOT NULL,
     error text NOT NULL,
     attempts int NOT NULL,
     batch_time_ms bigint NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (group_id, topic, partition, "offset"))`;
}

/** A row of the dead-letter table as read back, bigints as text. */
export interface DeadLetterRow {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: string | null;
  readonly operator: string;
  readonly error: string;
  readonly attempts: number;
  readonly batch_time_ms: string;
}

export function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    topic: row.topic,
    partition: row.partition,
    offset: Number(row.offset),
    key: row.key,
    value: row.value,
    operator: row.operator,
    error: row.error,
    attempts: row.attempts,
    batchTimeMs: Number(row.batch_time_ms),
  };
}

/**
 * Runs `ddl` in a transaction of its own on a pooled connection, under the advisory lock of
 * `lockKey`; the connection is dropped rather than reused when anything fails.
 */
export async function createTableLocked(pool: Pool, lockKey: string, ddl: string): Promise<void> {
  const client = await pool.connect();
  let isBroken = false;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey]);
    await client.query(ddl);
    await client.query('COMMIT');
  } catch (error) {
    isBroken = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release(isBroken);
  }
}
