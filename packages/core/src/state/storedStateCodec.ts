import { DStreamError } from '../errors';
import type { OperatorStateWrite } from '../offsets/OffsetStore';
import { fromStoredState, toStoredState } from './StatefulOperator';

/**
 * How stores that keep state as text (Redis hash fields, PostgreSQL rows, the in-memory store)
 * encode it, in one place: each entry is a field named by its key's JSON, holding the version-1
 * `StoredState` record as JSON; one more field, `STATE_META_FIELD`, holds the operator's kind and
 * state version. No JSON text is `!meta`, so it never collides with a key.
 */
export const STATE_META_FIELD = '!meta';

/** The stored form of an operator's kind and state version. */
export interface StoredStateMeta {
  readonly v: 1;
  readonly operator: string;
  readonly kind: string;
  readonly stateVersion: number;
}

/** The field a state key is stored under: its JSON. Keys must survive JSON (strings, numbers, arrays, plain objects). */
export function encodeStateKey(operator: string, key: unknown): string {
  const text = JSON.stringify(key);
  if (text === undefined) {
    throw new DStreamError(
      `state key ${String(key)} of operator ${JSON.stringify(operator)} cannot be stored: it has no JSON form. ` +
        'Use strings, numbers, arrays or plain objects as keys of stateful operators',
    );
  }
  return text;
}

/** The version-1 record of `[key, value]`, as JSON. */
export function encodeStateRecord(operator: string, key: unknown, value: unknown): string {
  return JSON.stringify(toStoredState(operator, key, value));
}

/** The `[key, value]` entry of a stored record's JSON, checking version and operator. */
export function decodeStateRecord(operator: string, text: string): readonly [unknown, unknown] {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    throw new DStreamError(`stored state of operator ${JSON.stringify(operator)} holds a record that is not JSON: ${text.slice(0, 80)}`);
  }
  return fromStoredState(record, operator);
}

/** The meta field's JSON for a write. */
export function encodeStateMeta(write: Pick<OperatorStateWrite, 'operator' | 'kind' | 'stateVersion'>): string {
  const meta: StoredStateMeta = { v: 1, operator: write.operator, kind: write.kind, stateVersion: write.stateVersion };
  return JSON.stringify(meta);
}

/** Kind and state version from the meta field's JSON. */
export function decodeStateMeta(operator: string, text: string): { kind: string; stateVersion: number } {
  let meta: Partial<StoredStateMeta> | null = null;
  try {
    meta = JSON.parse(text) as Partial<StoredStateMeta>;
  } catch {
    meta = null;
  }
  if (meta === null || typeof meta !== 'object' || meta.v !== 1 || typeof meta.kind !== 'string' || typeof meta.stateVersion !== 'number') {
    throw new DStreamError(
      `stored state of operator ${JSON.stringify(operator)} has no valid ${STATE_META_FIELD} record ` +
        `({ v: 1, operator, kind, stateVersion }); got ${text.slice(0, 80)}`,
    );
  }
  return { kind: meta.kind, stateVersion: meta.stateVersion };
}

/** A write as field updates: fields to set (meta first) and fields to delete. */
export function encodeStateWrite(write: OperatorStateWrite): { set: [string, string][]; remove: string[] } {
  const set: [string, string][] = [[STATE_META_FIELD, encodeStateMeta(write)]];
  for (const [key, value] of write.upserts) set.push([encodeStateKey(write.operator, key), encodeStateRecord(write.operator, key, value)]);
  return { set, remove: write.removals.map((key) => encodeStateKey(write.operator, key)) };
}
