/** The commits, state writes and comparisons the OffsetStore contract's cases are written with. */
import { OffsetRange, type TopicPartition } from '../offsets/OffsetRange';
import type { LoadedState, OffsetCommit, OperatorStateWrite } from '../offsets/OffsetStore';

/** One operator's state write, of kind mapWithState version 1 unless given. */
export function write(
  operator: string,
  upserts: readonly (readonly [unknown, unknown])[],
  removals: readonly unknown[] = [],
  kind = 'mapWithState',
  stateVersion = 1,
): OperatorStateWrite {
  return { operator, kind, stateVersion, upserts, removals };
}

/** Entries in a comparable order (stores return them in any order). */
export function normalizeEntries(entries: readonly (readonly [unknown, unknown])[]): string[] {
  return entries.map((entry) => JSON.stringify(entry)).sort();
}

export function normalize(state: LoadedState | undefined): { kind: string; stateVersion: number; entries: string[] } | undefined {
  return state === undefined ? undefined : { kind: state.kind, stateVersion: state.stateVersion, entries: normalizeEntries(state.entries) };
}

export function tp(topic: string, partition: number): TopicPartition {
  return { topic, partition };
}

/** The commit of range [from, until) expecting `expected` stored. */
export function commitOf(topic: string, partition: number, from: number, until: number, expected: number | null): OffsetCommit {
  return { range: OffsetRange.create(topic, partition, from, until), expectedOffset: expected };
}

/** The first commit of a partition: nothing stored yet, range [0, until). */
export function first(topic: string, partition: number, until: number): OffsetCommit {
  return commitOf(topic, partition, 0, until, null);
}

/** A follow-up commit: range [from, until), expecting `from` stored. */
export function next(topic: string, partition: number, from: number, until: number): OffsetCommit {
  return commitOf(topic, partition, from, until, from);
}

export function sorted(offsets: ReadonlyMap<string, number>): Array<[string, number]> {
  return [...offsets].sort(([a], [b]) => a.localeCompare(b));
}
