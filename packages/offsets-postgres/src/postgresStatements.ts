/**
 * The statements `PostgresOffsetStore` runs on its tables, each a function of the schema-qualified
 * (escaped) table name, and the parameter arrays they take: a batch's rows go in as one array per
 * column, unpacked with `unnest`, so each write is one statement whatever the batch holds.
 */
import { encodeStateWrite, type DeadLetter, type OffsetCommit, type StateWrite } from '@dstream/core';

/** One row of the offsets table as `load` and the commit check read it. */
export interface OffsetRow {
  topic: string;
  partition: number;
  next_offset: string;
}

/** One row of the state table as `loadState` reads it. */
export interface StateRow {
  key: string;
  record: string;
}

/** The stored offsets of a group's partitions ($1 group, $2 topics, $3 partitions). */
export function loadOffsetsSql(table: string): string {
  return `SELECT topic, partition, next_offset::text AS next_offset FROM ${table}
            WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))`;
}

/** The stored offsets of a commit's partitions in (topic, partition) order, locked when `lock` is `FOR UPDATE`. */
export function readOffsetsSql(table: string, lock: 'FOR UPDATE' | ''): string {
  return `SELECT topic, partition, next_offset::text AS next_offset FROM ${table}
          WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
          ORDER BY topic, partition ${lock}`;
}

/** Moves each partition to its until offset where it still holds the expected one ($1 group, the `offsetColumns`, the expected offsets). */
export function updateOffsetsSql(table: string): string {
  return `UPDATE ${table} AS o SET next_offset = c.until_offset, updated_at = now()
             FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS c(topic, partition, until_offset, expected)
            WHERE o.group_id = $1 AND o.topic = c.topic AND o.partition = c.partition AND o.next_offset = c.expected`;
}

/** Inserts each partition's first offset ($1 group, the `offsetColumns`), skipping a row another writer inserted first. */
export function insertOffsetsSql(table: string): string {
  return `INSERT INTO ${table} (group_id, topic, partition, next_offset)
           SELECT $1, c.topic, c.partition, c.until_offset
             FROM unnest($2::text[], $3::int[], $4::bigint[]) AS c(topic, partition, until_offset)
           ON CONFLICT (group_id, topic, partition) DO NOTHING`;
}

/** Topic, partition and until columns of a batch of commits, for `unnest`. */
export function offsetColumns(commits: readonly OffsetCommit[]): [string[], number[], string[]] {
  return [
    commits.map(({ range }) => range.topic),
    commits.map(({ range }) => range.partition),
    // As text: a bigint parameter built from a string never passes through a float.
    commits.map(({ range }) => String(range.untilOffset)),
  ];
}

/** The rows of one operator's state ($1 group, $2 operator), records as text. */
export function loadStateSql(table: string): string {
  return `SELECT key, record::text AS record FROM ${table} WHERE group_id = $1 AND operator = $2`;
}

/** The distinct operators of a group's state rows ($1 group), in order. */
export function listStateSql(table: string): string {
  return `SELECT DISTINCT operator FROM ${table} WHERE group_id = $1 ORDER BY operator`;
}

/** Deletes every row of one operator's state ($1 group, $2 operator). */
export function deleteOperatorStateSql(table: string): string {
  return `DELETE FROM ${table} WHERE group_id = $1 AND operator = $2`;
}

/** Upserts state rows ($1 group, then the `upserts` columns of `stateColumns`). */
export function upsertStateSql(table: string): string {
  return `INSERT INTO ${table} (group_id, operator, key, record)
           SELECT $1, u.operator, u.key, u.record::jsonb FROM unnest($2::text[], $3::text[], $4::text[]) AS u(operator, key, record)
           ON CONFLICT (group_id, operator, key) DO UPDATE SET record = EXCLUDED.record, updated_at = now()`;
}

/** Deletes state rows by (operator, key) ($1 group, then the `removals` columns of `stateColumns`). */
export function deleteStateKeysSql(table: string): string {
  return `DELETE FROM ${table}
            WHERE group_id = $1 AND (operator, key) IN (SELECT * FROM unnest($2::text[], $3::text[]))`;
}

/**
 * A batch's state changes as columns for `unnest`: `upserts` (operator, key, record) and
 * `removals` (operator, key).
 */
export function stateColumns(state: StateWrite): {
  upserts: [string[], string[], string[]];
  removals: [string[], string[]];
} {
  const upserts: [string[], string[], string[]] = [[], [], []];
  const removals: [string[], string[]] = [[], []];
  for (const write of state) {
    const { set, remove } = encodeStateWrite(write);
    for (const [key, record] of set) {
      upserts[0].push(write.operator);
      upserts[1].push(key);
      upserts[2].push(record);
    }
    for (const key of remove) {
      removals[0].push(write.operator);
      removals[1].push(key);
    }
  }
  return { upserts, removals };
}

/** Inserts dead letters ($1 group, then the `deadLetterColumns`); a letter kept already changes nothing. */
export function insertDeadLettersSql(table: string): string {
  return `INSERT INTO ${table}
             (group_id, topic, partition, "offset", key, value, operator, error, attempts, batch_time_ms)
           SELECT $1::text, * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::bigint[])
           ON CONFLICT DO NOTHING`;
}

/** The columns of a batch of dead letters, for `unnest`, in the order `insertDeadLettersSql` takes them. */
export function deadLetterColumns(letters: readonly DeadLetter[]): unknown[][] {
  return [
    letters.map((l) => l.topic),
    letters.map((l) => l.partition),
    letters.map((l) => l.offset),
    letters.map((l) => l.key),
    letters.map((l) => l.value),
    letters.map((l) => l.operator),
    letters.map((l) => l.error),
    letters.map((l) => l.attempts),
    letters.map((l) => l.batchTimeMs),
  ];
}

/** A group's dead letters ($1 group) in (topic, partition, offset) order, bigints as text. */
export function loadDeadLettersSql(table: string): string {
  return `SELECT topic, partition, "offset"::text AS "offset", key, value, operator, error, attempts, batch_time_ms::text AS batch_time_ms
             FROM ${table} AS d WHERE group_id = $1 ORDER BY d.topic, d.partition, d."offset"`;
}
