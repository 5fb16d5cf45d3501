import type { DeadLetter } from './DeadLetter';
import { OffsetRange, TopicPartition } from './OffsetRange';

/**
 * One partition's part of a batch commit: store `range.untilOffset`, but only if the store still
 * holds `expectedOffset` (null: nothing stored yet). Normally `expectedOffset` is the range's
 * `fromOffset`; it differs for the first batch after an out-of-range reset.
 */
export interface OffsetCommit {
  readonly range: OffsetRange;
  readonly expectedOffset: number | null;
}

/** Stored offsets by `topic:partition` (see `topicPartitionKey`): the next offset to read. */
export type StoredOffsets = ReadonlyMap<string, number>;

/**
 * The consumer-group membership of a Kafka direct stream's consumer (group, generation, member
 * id), which fences the offsets a Kafka transaction commits. Opaque: only the producers core's
 * Kafka client makes can read it (see `KafkaGroupBinding.groupMetadata`).
 */
export interface GroupMetadata {
  readonly groupId: string;
}

/**
 * What a Kafka input stream lends its offset store when it connects: the consumer group's own
 * offset API and the consumer's group membership, for stores that keep offsets in Kafka itself.
 */
export interface KafkaGroupBinding {
  readonly groupId: string;
  /** Offsets committed to the group for these partitions (absent: none). */
  committed(partitions: readonly TopicPartition[], timeoutMs: number): Promise<StoredOffsets>;
  /** Commits offsets to the group through the stream's consumer (next offset to read). */
  commit(offsets: ReadonlyArray<{ topic: string; partition: number; offset: number }>): Promise<void>;
  /** The stream consumer's group membership, for a transactional producer's `sendOffsetsToTransaction`. */
  readonly groupMetadata: GroupMetadata;
}

/**
 * One stateful operator's part of a batch's state write: the keys the batch wrote (with their new
 * values) and removed. `kind` and `stateVersion` are stored with the state, so a restart can tell
 * whether the running code still reads it (see `loadState`).
 */
export interface OperatorStateWrite {
  /** The operator's stable name (`StatefulOperator.name`). */
  readonly operator: string;
  readonly kind: string;
  readonly stateVersion: number;
  readonly upserts: readonly (readonly [unknown, unknown])[];
  readonly removals: readonly unknown[];
}

/** A batch's state changes, one entry per stateful operator that changed something. */
export type StateWrite = readonly OperatorStateWrite[];

/** An operator's state as `loadState` reads it back. */
export interface LoadedState {
  /** Kind and version the state was written with. */
  readonly kind: string;
  readonly stateVersion: number;
  readonly entries: readonly (readonly [unknown, unknown])[];
}

/** Passed to `OffsetStore.connect` by the stream that uses the store. */
export interface OffsetStoreBinding {
  readonly kafka?: KafkaGroupBinding;
}

/**
 * Where a job's consumed offsets persist. Implemented by each `@dstream/offsets-*` package and by
 * `InMemoryOffsetStore`. Offsets stored are the next offset to read (the last processed + 1).
 *
 * Every commit is compare-and-set per partition: it succeeds only if each partition still holds
 * the commit's `expectedOffset`, else it rejects with `StaleOffsetError` and changes nothing, so a
 * stale process can neither move offsets backwards nor skip records. All partitions of one commit
 * are written atomically where the store allows it.
 *
 * Errors from the client library never escape unwrapped: they arrive as `OffsetStoreError`
 * (with `retriable` set for connection-level failures) or its subclass `StaleOffsetError`.
 *
 * @example
 * const store = new InMemoryOffsetStore();
 * await store.connect();
 * await store.commit('group', [{ range: OffsetRange.create('t', 0, 0, 10), expectedOffset: null }]);
 * (await store.load('group', [{ topic: 't', partition: 0 }])).get('t:0'); // 10
 */
export interface OffsetStore<Tx = unknown> {
  /** Short name used in errors, logs and metrics ("redis", "postgres", …). */
  readonly name: string;
  /** True when `transaction` is available, so output and offsets can commit atomically. */
  readonly supportsTransactions: boolean;
  /** Connects; an unreachable store rejects with `OffsetStoreError` after a bounded wait. */
  connect(binding?: OffsetStoreBinding): Promise<void>;
  /** Stored offsets of these partitions; a partition with nothing stored is absent from the map. */
  load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets>;
  /**
   * True when the store keeps operator state with the offsets (`loadState`, and `state` accepted by
   * `commit` and `transaction`), written in the same atomic step as the offsets.
   */
  readonly supportsState?: boolean;
  /**
   * Compare-and-set commit of a batch's ranges (see the interface's summary). With `state` (stores
   * that `supportsState`), the state changes are written in the same atomic step: both or neither.
   * `commits` may be empty to write state alone.
   */
  commit(group: string, commits: readonly OffsetCommit[], state?: StateWrite): Promise<void>;
  /**
   * Runs `work` inside one store transaction and commits `commits` in the same transaction:
   * either both the writes made through `tx` and the offsets persist, or neither does. A stale
   * offset rejects with `StaleOffsetError` and discards the writes. Present only when
   * `supportsTransactions` is true. With `state` (stores that `supportsState`), the store calls it
   * after `work` and writes the state changes it returns in the same transaction.
   */
  transaction?<T>(
    group: string,
    commits: readonly OffsetCommit[],
    work: (tx: Tx) => Promise<T>,
    state?: () => StateWrite,
  ): Promise<T>;
  /**
   * The stored state of `operator` in `group`, in one read: undefined when nothing was ever stored
   * for it. Present only when `supportsState` is true.
   */
  loadState?(group: string, operator: string): Promise<LoadedState | undefined>;
  /**
   * The names state is stored under in `group` (operator names, and `<operator>@<topic>:<partition>`
   * for state kept per source partition), so a job can report state no operator of it reads.
   * Present on stores that can list them.
   */
  listState?(group: string): Promise<string[]>;
  /** Deletes everything stored under state name `operator` in `group` (nothing stored: no-op). Present with `listState`. */
  deleteState?(group: string, operator: string): Promise<void>;
  /**
   * Keeps dead letters of `group` (see `DeadLetter`), one per (topic, partition, offset): a letter
   * written again changes nothing. Given `tx`, the writes join that transaction and persist only
   * with its offsets; otherwise they are written at once. Present on stores that can keep them;
   * the dead-letter policy requires it.
   */
  writeDeadLetters?(group: string, letters: readonly DeadLetter[], tx?: Tx): Promise<void>;
  /** The dead letters kept for `group`, in (topic, partition, offset) order. Present with `writeDeadLetters`. */
  loadDeadLetters?(group: string): Promise<DeadLetter[]>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/** The commits that advance each range from its own `fromOffset`: the common case. */
export function commitsFromRanges(ranges: readonly OffsetRange[]): OffsetCommit[] {
  return ranges.map((range) => ({ range, expectedOffset: range.fromOffset }));
}
