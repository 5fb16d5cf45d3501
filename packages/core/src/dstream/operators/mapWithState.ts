import { ConfigError } from '../../errors';
import { StateHandle } from '../../state/State';
import { StateSpec } from '../../state/StateSpec';
import { type PartitionStateChanges, type StateChanges, StateChangeLog } from '../../state/StatefulOperator';
import { notCoPartitioned } from '../sourcePartitions';
import { registerState } from '../../state/StateRegistry';
import { defineOperator, type DStream, type DStreamNode } from '../graph';
import { forEachRecord } from '../FusedNode';
import { batchOf } from '../batchOf';
import { userFunctionError } from '../userFunctionError';
import type { StateNameOptions } from '../../state/StateRegistry';

/** A `mapWithState` stream: the mapped records, and the state of every key through `stateSnapshots()`. */
export type MapWithStateDStream<K, S, M, Tx = unknown> = DStream<M, Tx> & {
  /** Every batch, one `[key, state]` per key with state after the batch (Spark's `stateSnapshots`). */
  stateSnapshots(): DStream<[K, S], Tx>;
};

/** One key's state and the time of the last batch that gave the key a record or a new state. */
class StateEntry<S> {
  constructor(
    public state: S,
    public updatedMs: number,
    /** The source partition whose records made it; undefined for state of the whole operator. */
    public partition: string | undefined,
  ) {}
}

/**
 * Spark's `MapWithStateDStream`: the function runs once per record with the key's state, and once
 * for each key idle past the timeout. Only keys with records (and timing-out keys) are visited, so
 * a batch costs what its records cost, not what the state holds. With a timeout, entries are kept
 * in the order of their last update, so finding the idle ones stops at the first key that is not.
 */
class MapWithStateNode<K, V, S, M> implements DStreamNode<M> {
  /** Reads its parent's batch once per batch, record by record (`forEachRecord`). */
  readonly foldsRecords = true;
  readonly name = 'mapWithState';
  readonly slideDurationMs: number;
  readonly dependencies: readonly DStream<unknown>[];
  /** Set right after construction. */
  stream!: DStream<M>;
  readonly state: Map<K, StateEntry<S>>;
  private hasInitialTimes = false;
  private lastComputedTime = -Infinity;
  private readonly handle = new StateHandle<S>();
  private readonly log = new StateChangeLog();
  /** State is kept per source partition (see `StatefulOperator.scopeByPartition`). */
  isScoped = false;

  scopeByPartition(): void {
    this.isScoped = true;
  }
  /** The source partition of the records being read. */
  private partition: string | undefined;
  private readonly onPartition = (partition: string): void => {
    this.partition = partition;
  };

  constructor(
    private readonly source: DStream<readonly [K, V]>,
    private readonly spec: StateSpec<K, V, S, M>,
  ) {
    this.slideDurationMs = source.slideDurationMs;
    this.dependencies = [source];
    // Initial state is stamped with the first batch's time, as Spark does.
    // Initial state belongs to no partition until its key's first record.
    this.state = new Map(spec.initialStatePairs.map(([key, state]) => [key, new StateEntry(state, Number.NaN, undefined)]));
  }

  /** Computed every batch, records or not: timeouts fire on empty batches too. */
  async prepare(time: number): Promise<void> {
    await this.stream.getOrCompute(time);
  }

  async compute(time: number): Promise<readonly M[]> {
    const previousTime = time - this.slideDurationMs;
    if (previousTime > this.source.context.zeroTimeMs && previousTime > this.lastComputedTime) {
      await this.stream.getOrCompute(previousTime);
    }
    if (!this.hasInitialTimes) {
      this.hasInitialTimes = true;
      for (const entry of this.state.values()) if (Number.isNaN(entry.updatedMs)) entry.updatedMs = time;
    }
    this.log.begin(time);
    const { state, handle, log } = this;
    const { mappingFunction, timeoutMs } = this.spec;
    const hasTimeout = timeoutMs !== undefined;
    const output: M[] = [];
    this.partition = undefined;
    await forEachRecord(
      this.source,
      time,
      (pair) => {
        const key = pair[0];
        const entry = state.get(key);
        const partition = this.partition;
        // State of no partition (initial state, state of the older format) moves to the partition of
        // its key's first record; a key in two partitions breaks the rule state is kept by.
        let hasMoved = false;
        if (entry !== undefined && entry.partition !== partition) {
          if (entry.partition !== undefined && partition !== undefined) throw notCoPartitioned('mapWithState', key, entry.partition, partition);
          log.remove(key, entry.partition);
          entry.partition = partition;
          hasMoved = true;
        }
        handle.wrap(entry !== undefined, entry?.state, false);
        let mapped: M;
        try {
          mapped = mappingFunction(key, pair[1], handle);
        } catch (cause) {
          throw userFunctionError('mapWithState', cause, pair);
        }
        if (handle.isRemoved) {
          if (entry !== undefined) {
            state.delete(key);
            log.remove(key, partition);
          }
        } else if (entry === undefined) {
          if (handle.isUpdated) {
            const created = new StateEntry(handle.current as S, time, partition);
            state.set(key, created);
            log.upsert(key, created, partition);
          }
        } else if (handle.isUpdated || hasMoved || (hasTimeout && entry.updatedMs !== time)) {
          // With a timeout, a record refreshes its key even without an update (Spark does the same).
          entry.state = handle.current as S;
          if (hasTimeout && entry.updatedMs !== time) {
            state.delete(key);
            state.set(key, entry);
          }
          entry.updatedMs = time;
          log.upsert(key, entry, partition);
        }
        if (mapped !== undefined) output.push(mapped);
      },
      this.isScoped ? this.onPartition : undefined,
    );
    if (hasTimeout) this.expire(time - timeoutMs, output);
    this.lastComputedTime = time;
    return output;
  }

  /** Calls the function once for every key last updated before `thresholdMs`, and removes it. */
  private expire(thresholdMs: number, output: M[]): void {
    const { state, handle, log } = this;
    for (const [key, entry] of state) {
      if (entry.updatedMs >= thresholdMs) break;
      handle.wrap(true, entry.state, true);
      let mapped: M;
      try {
        mapped = this.spec.mappingFunction(key, undefined, handle);
      } catch (cause) {
        throw userFunctionError('mapWithState', cause, { key });
      }
      state.delete(key);
      log.remove(key, entry.partition);
      if (mapped !== undefined) output.push(mapped);
    }
  }

  changesOf(time: number): StateChanges {
    const { upserts, removals, byPartition } = this.log.changesOf(time);
    const stored = (changes: PartitionStateChanges): PartitionStateChanges => ({
      upserts: changes.upserts.map(([key, entry]) => [key, toStored(entry as StateEntry<S>)] as const),
      removals: changes.removals,
    });
    if (byPartition === undefined) return stored({ upserts, removals });
    const partitions = new Map<string, PartitionStateChanges>();
    for (const [partition, changes] of byPartition) partitions.set(partition, stored(changes));
    return { ...stored({ upserts, removals }), byPartition: partitions };
  }

  *entries(): Iterable<readonly [unknown, unknown]> {
    for (const [key, entry] of this.state) yield [key, toStored(entry)];
  }

  restore(entries: Iterable<readonly [unknown, unknown]>): void {
    this.state.clear();
    this.load(undefined, entries);
  }

  loadPartition(partition: string, entries: Iterable<readonly [unknown, unknown]>): void {
    this.load(partition, entries);
  }

  dropPartition(partition: string): void {
    for (const [key, entry] of this.state) if (entry.partition === partition) this.state.delete(key);
  }

  /** Adds stored entries as the state of `partition`, replacing the keys they name. */
  private load(partition: string | undefined, entries: Iterable<readonly [unknown, unknown]>): void {
    const all: [K, StateEntry<S>][] = [];
    const loaded = new Set<K>();
    for (const [key, value] of entries) {
      const { state, updatedMs } = value as { state: S; updatedMs: number };
      all.push([key as K, new StateEntry(state, updatedMs, partition)]);
      loaded.add(key as K);
    }
    for (const [key, entry] of this.state) if (!loaded.has(key)) all.push([key, entry]);
    // Oldest update first: the order timeouts rely on (initial state not stamped yet goes first).
    all.sort((a, b) => (Number.isNaN(a[1].updatedMs) ? -Infinity : a[1].updatedMs) - (Number.isNaN(b[1].updatedMs) ? -Infinity : b[1].updatedMs));
    // In place: a batch running while partitions are assigned holds this very map.
    this.state.clear();
    for (const [key, entry] of all) this.state.set(key, entry);
    if (partition === undefined) this.hasInitialTimes = true;
  }
}

/** The stored value of one key: its state and the time it was last updated (for timeouts). */
function toStored<S>(entry: StateEntry<S>): { state: S; updatedMs: number } {
  return { state: entry.state, updatedMs: entry.updatedMs };
}

/**
 * `source.mapWithState(spec, { name })`: the function's results for every record (and every timed-out
 * key), in record order then timeout order; `undefined` results are left out.
 */
export function mapWithState<K, V, S, M>(
  source: DStream<readonly [K, V]>,
  spec: StateSpec<K, V, S, M>,
  options: StateNameOptions = {},
): MapWithStateDStream<K, S, M> {
  if (!(spec instanceof StateSpec)) {
    throw new ConfigError('mapWithState(spec)', spec, 'must be a StateSpec', 'Build one with StateSpec.function((key, value, state) => …).');
  }
  const node = new MapWithStateNode(source, spec);
  const stream = source.derive<M>(node) as MapWithStateDStream<K, S, M>;
  node.stream = stream;
  registerState(source as DStream<unknown>, 'mapWithState', options.name ?? spec.stateName, 1, node);
  let snapshots: DStream<[K, S]> | undefined;
  stream.stateSnapshots = () => {
    snapshots ??= stream.derive<[K, S]>({
      name: 'stateSnapshots',
      slideDurationMs: stream.slideDurationMs,
      dependencies: [stream],
      compute: async (time) => {
        await batchOf(stream, time);
        const pairs: [K, S][] = [];
        for (const [key, entry] of node.state) pairs.push([key, entry.state]);
        return pairs;
      },
    });
    return snapshots;
  };
  return stream;
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * State per key, visited only for keys with records (Spark's mapWithState): `spec`'s function
     * runs for every `[key, value]` with the key's `State` handle and its result is emitted
     * (`undefined` results are left out). With `spec.timeout(idleMs)`, a key without records for
     * longer is called once more with `undefined` and `state.isTimingOut()`, then removed.
     * `stateSnapshots()` on the result is every `[key, state]` after each batch. The state is
     * registered under `options.name`, else `spec.name(…)`, else a name derived from the lineage.
     *
     * @example
     * const sessions = clicks.mapWithState(
     *   StateSpec.function((user: string, click: Click | undefined, state: State<number>) => {
     *     if (state.isTimingOut()) return { user, clicks: state.get(), ended: true };
     *     state.update((state.getOption() ?? 0) + 1);
     *     return undefined;
     *   }).timeout(30 * 60_000),
     * );
     */
    mapWithState<K, V, S, M>(
      this: DStream<readonly [K, V], Tx>,
      spec: StateSpec<K, V, S, M>,
      options?: StateNameOptions,
    ): MapWithStateDStream<K, S, M, Tx>;
  }
}

defineOperator('mapWithState', mapWithState);
