import { DStreamError } from '../errors';

/**
 * The hook between stateful operators and whatever makes their state durable. Every operator that
 * keeps state across batches (`updateStateByKey`, `mapWithState`, the windowed reductions) registers
 * one `StatefulOperator` with its context under a stable name. The commit path reads each batch's
 * changes after the batch's outputs ran and writes them with the batch's offsets; at start (or when
 * partitions are assigned) it reads them back and calls `restore`. See docs/guide/windows-and-state.md.
 */

/** What one batch changed in an operator's state: keys written (with their new value) and keys removed. */
export interface StateChanges {
  readonly upserts: readonly (readonly [unknown, unknown])[];
  readonly removals: readonly unknown[];
  /**
   * Changes of state kept per source partition, by partition (`topic:partition`); absent when
   * there are none. `upserts` and `removals` above are then those of the state kept for the whole
   * operator (an operator whose input lost its records' partitions, or state of an older format).
   */
  readonly byPartition?: ReadonlyMap<string, PartitionStateChanges>;
}

/** One source partition's part of a batch's state changes. */
export interface PartitionStateChanges {
  readonly upserts: readonly (readonly [unknown, unknown])[];
  readonly removals: readonly unknown[];
}

/** One stateful operator as the commit path sees it. Keys and values are what `StoredState` records carry. */
export interface StatefulOperator {
  /** Stable and unique within the context: the name state is stored under. */
  readonly name: string;
  /** The operator that keeps it: 'updateStateByKey', 'mapWithState', 'reduceByKeyAndWindow', … */
  readonly kind: string;
  /** Version of the shape of this operator's stored keys and values; bumped when it changes. */
  readonly stateVersion: number;
  /**
   * The keys batch `time` wrote or removed, each once (the last write wins). Read after the batch's
   * outputs ran and before the next batch starts; a time with no changes, or one more than a batch
   * back, gives empty lists.
   */
  changesOf(time: number): StateChanges;
  /** Every stored entry of the current state: what a full snapshot writes. */
  entries(): Iterable<readonly [unknown, unknown]>;
  /**
   * Replaces the whole state with `entries` (as `changesOf` and `entries` produced them). Call it
   * before the first batch, or between batches when the set of owned partitions changes, with the
   * entries of every partition this process now owns.
   */
  restore(entries: Iterable<readonly [unknown, unknown]>): void;
  /**
   * True when the operator keeps its state per source partition (after `scopeByPartition`), so the
   * state of a partition can be loaded when this process is assigned it and dropped when it is revoked.
   */
  readonly isScoped?: boolean;
  /** True when its input tells each record's Kafka partition all the way (see `sourcePartitions`): it can keep state per partition. */
  readonly canScopeByPartition?: boolean;
  /**
   * Keeps the state per source partition from now on (called before the first batch when a
   * consumer group assigns the partitions; under Assign state is kept for the whole operator).
   */
  scopeByPartition?(): void;
  /** When the input reads Kafka but loses its records' partitions on the way: the operator that loses them (a join, …). */
  readonly partitionsLostAt?: string;
  /** Adds the stored entries of one source partition (this process was just assigned it), replacing what it held for it. */
  loadPartition?(partition: string, entries: Iterable<readonly [unknown, unknown]>): void;
  /** Forgets the state of a source partition this process gave up. */
  dropPartition?(partition: string): void;
}

/** The stored form of one state entry, version 1: JSON-serializable as long as key and value are. */
export interface StoredState {
  readonly v: 1;
  readonly operator: string;
  readonly key: unknown;
  readonly value: unknown;
}

const NO_CHANGES: StateChanges = Object.freeze({ upserts: Object.freeze([]), removals: Object.freeze([]) });

const REMOVED = Symbol('removed');

/** One batch's changes: primitive keys by value, and object keys (e.g. `['slice', time]`) by their JSON. */
interface BatchChanges {
  readonly byValue: Map<unknown, unknown>;
  readonly byJson: Map<string, readonly [unknown, unknown]>;
}

/**
 * Records what each batch changed, for `StatefulOperator.changesOf`. Only the current and the
 * previous batch are kept: the commit path reads a batch's changes before the next one starts.
 * Keys that are arrays or objects are matched by their JSON, as a store matches them: two
 * writes of `['window', 'a']` in one batch are one change, the last.
 */
export class StateChangeLog {
  /** Batch time → source partition (undefined: state of the whole operator) → changes. */
  private readonly batches = new Map<number, Map<string | undefined, BatchChanges>>();
  private current: Map<string | undefined, BatchChanges> | undefined;
  private currentTime: number | undefined;

  /** Starts (or continues) recording batch `time`, forgetting batches before the previous one. */
  begin(time: number): void {
    if (this.currentTime === time) return;
    this.currentTime = time;
    let current = this.batches.get(time);
    if (current === undefined) {
      current = new Map();
      this.batches.set(time, current);
    }
    this.current = current;
    for (const batchTime of this.batches.keys()) {
      if (this.batches.size <= 2) break;
      this.batches.delete(batchTime);
    }
  }

  /** `key` now holds `value`, in the state of source partition `partition` (or of the whole operator). */
  upsert(key: unknown, value: unknown, partition?: string): void {
    this.record(key, value, partition);
  }

  /** `key` was removed from the state of `partition` (or of the whole operator). */
  remove(key: unknown, partition?: string): void {
    this.record(key, REMOVED, partition);
  }

  changesOf(time: number): StateChanges {
    const changes = this.batches.get(time);
    if (changes === undefined || changes.size === 0) return NO_CHANGES;
    const unscoped = changes.get(undefined);
    const whole = unscoped === undefined ? NO_CHANGES : listed(unscoped);
    if (changes.size === (unscoped === undefined ? 0 : 1)) return whole;
    const byPartition = new Map<string, PartitionStateChanges>();
    for (const [partition, batch] of changes) if (partition !== undefined) byPartition.set(partition, listed(batch));
    return { upserts: whole.upserts, removals: whole.removals, byPartition };
  }

  private record(key: unknown, value: unknown, partition: string | undefined): void {
    let changes = this.current!.get(partition);
    if (changes === undefined) {
      changes = { byValue: new Map(), byJson: new Map() };
      this.current!.set(partition, changes);
    }
    if (typeof key === 'object' && key !== null) changes.byJson.set(JSON.stringify(key), [key, value]);
    else changes.byValue.set(key, value);
  }
}

function listed(changes: BatchChanges): StateChanges {
  const upserts: (readonly [unknown, unknown])[] = [];
  const removals: unknown[] = [];
  const add = (key: unknown, value: unknown) => {
    if (value === REMOVED) removals.push(key);
    else upserts.push([key, value]);
  };
  for (const [key, value] of changes.byValue) add(key, value);
  for (const [key, value] of changes.byJson.values()) add(key, value);
  return { upserts, removals };
}

/** `[key, value]` of `operator`'s state as the version 1 stored record. */
export function toStoredState(operator: string, key: unknown, value: unknown): StoredState {
  return { v: 1, operator, key, value };
}

/** The `[key, value]` entry of a stored record, checking its version and operator name. */
export function fromStoredState(record: unknown, operator: string): readonly [unknown, unknown] {
  const stored = record as Partial<StoredState> | null;
  if (typeof stored !== 'object' || stored === null || stored.v !== 1) {
    throw new DStreamError(`stored state of ${operator} must be a { v: 1, operator, key, value } record; got ${JSON.stringify(record)}`);
  }
  if (stored.operator !== operator) {
    throw new DStreamError(`stored state record belongs to operator ${JSON.stringify(stored.operator)}, not ${JSON.stringify(operator)}`);
  }
  return [stored.key, stored.value];
}
