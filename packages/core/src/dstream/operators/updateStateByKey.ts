import { ConfigError } from '../../errors';
import { type StateChanges, StateChangeLog } from '../../state/StatefulOperator';
import { registerState } from '../../state/StateRegistry';
import { defineOperator, type DStream, type DStreamNode } from '../graph';
import { forEachRecord } from '../FusedNode';
import { requireFunction } from '../requireFunction';
import { userFunctionError } from '../userFunctionError';
import { addToGroup } from './groupByKey';
import { KeyPartitions, notCoPartitioned } from '../sourcePartitions';

/** Options of `updateStateByKey`. */
export interface UpdateStateByKeyOptions<K, S> {
  /** `[key, state]` pairs the state starts with, before the first batch. */
  readonly initialState?: Iterable<readonly [K, S]>;
  /** Name the state is stored under (default: derived from the stream's lineage). */
  readonly name?: string;
}

/** The values of a key without records in the batch: shared, so frozen. */
const NO_VALUES: never[] = Object.freeze([]) as never[];

/**
 * Spark's `StateDStream`: every batch, `update(values, previous)` for every key that has state or
 * records, in that order (keys with state first, in the order they got it, then new keys in
 * first-seen order); `undefined` removes the key. The batch is every `[key, state]` after it; the
 * pair of an unchanged key is the same array from batch to batch, so batches are read-only.
 */
class UpdateStateNode<K, V, S> implements DStreamNode<[K, S]> {
  /** Reads its parent's batch once per batch, record by record (`forEachRecord`). */
  readonly foldsRecords = true;
  readonly name = 'updateStateByKey';
  readonly slideDurationMs: number;
  readonly dependencies: readonly DStream<unknown>[];
  /** Set right after construction. */
  stream!: DStream<[K, S]>;
  /**
   * Key → its `[key, state]` pair, the very array the batches hold: a key whose state did not
   * change keeps its pair, so a batch of a large, mostly idle state allocates one array, not one
   * pair per key (pairs that outlive a batch would be promoted and collected as old garbage).
   */
  private state: Map<K, [K, S]>;
  private lastComputedTime = -Infinity;
  private readonly log = new StateChangeLog();
  /** State is kept per source partition (see `StatefulOperator.scopeByPartition`). */
  isScoped = false;

  scopeByPartition(): void {
    this.isScoped = true;
  }
  /** Key → the source partition its state belongs to; keys absent belong to none (initial state, older format). */
  private readonly partitionOf = new Map<K, string>();

  constructor(
    private readonly source: DStream<readonly [K, V]>,
    private readonly update: (values: V[], previous: S | undefined) => S | undefined,
    initialState: Iterable<readonly [K, S]>,
  ) {
    this.slideDurationMs = source.slideDurationMs;
    this.dependencies = [source];
    this.state = toPairs(initialState);
  }

  /** Computed every batch, records or not: state moves one batch at a time. */
  async prepare(time: number): Promise<void> {
    await this.stream.getOrCompute(time);
  }

  async compute(time: number): Promise<readonly [K, S][]> {
    const previousTime = time - this.slideDurationMs;
    if (previousTime > this.source.context.zeroTimeMs && previousTime > this.lastComputedTime) {
      await this.stream.getOrCompute(previousTime);
    }
    this.log.begin(time);
    const groups = new Map<K, V[]>();
    const partitions = new KeyPartitions<K>('updateStateByKey');
    if (this.isScoped) {
      await forEachRecord(
        this.source,
        time,
        (pair) => {
          partitions.note(pair[0]);
          addToGroup(groups, pair);
        },
        partitions.onPartition,
      );
    } else {
      await forEachRecord(this.source, time, (pair) => addToGroup(groups, pair));
    }
    const { state, log, partitionOf } = this;
    // forEach rather than for…of: no [key, value] entry array per key of a large state.
    state.forEach((pair, key) => {
      const values = groups.get(key);
      if (values !== undefined) groups.delete(key);
      let partition = partitionOf.get(key);
      let hasMoved = false;
      if (values !== undefined && this.isScoped) {
        // State of no partition moves to its key's partition with the key's first records.
        const recordsFrom = partitions.partitionOf(key);
        if (recordsFrom !== partition && recordsFrom !== undefined) {
          if (partition !== undefined) throw notCoPartitioned('updateStateByKey', key, partition, recordsFrom);
          log.remove(key, undefined);
          partitionOf.set(key, recordsFrom);
          partition = recordsFrom;
          hasMoved = true;
        }
      }
      const previous = pair[1];
      const next = this.call(key, values ?? NO_VALUES, previous);
      if (next === undefined) {
        state.delete(key);
        partitionOf.delete(key);
        log.remove(key, partition);
      } else if (values !== undefined || hasMoved || !Object.is(next, previous)) {
        // A key without records whose update returned its state as it was is left out of the
        // batch's changes: most keys of a large state are idle in any one batch.
        state.set(key, [key, next]);
        log.upsert(key, next, partition);
      }
    });
    for (const [key, values] of groups) {
      const next = this.call(key, values, undefined);
      if (next === undefined) continue;
      const partition = this.isScoped ? partitions.partitionOf(key) : undefined;
      if (partition !== undefined) partitionOf.set(key, partition);
      state.set(key, [key, next]);
      log.upsert(key, next, partition);
    }
    this.lastComputedTime = time;
    return Array.from(state.values());
  }

  private call(key: K, values: V[], previous: S | undefined): S | undefined {
    try {
      return this.update(values, previous);
    } catch (cause) {
      throw userFunctionError('updateStateByKey', cause, { key });
    }
  }

  changesOf(time: number): StateChanges {
    return this.log.changesOf(time);
  }

  entries(): Iterable<readonly [unknown, unknown]> {
    return this.state.values();
  }

  restore(entries: Iterable<readonly [unknown, unknown]>): void {
    this.state = toPairs(entries as Iterable<readonly [K, S]>);
    this.partitionOf.clear();
  }

  loadPartition(partition: string, entries: Iterable<readonly [unknown, unknown]>): void {
    for (const [key, state] of entries as Iterable<readonly [K, S]>) {
      this.state.set(key, [key, state]);
      this.partitionOf.set(key, partition);
    }
  }

  dropPartition(partition: string): void {
    for (const [key, owner] of this.partitionOf) {
      if (owner !== partition) continue;
      this.partitionOf.delete(key);
      this.state.delete(key);
    }
  }
}

function toPairs<K, S>(entries: Iterable<readonly [K, S]>): Map<K, [K, S]> {
  const pairs = new Map<K, [K, S]>();
  for (const [key, state] of entries) pairs.set(key, [key, state]);
  return pairs;
}

/**
 * `source.updateStateByKey(update, options)`: state per key, updated every batch; each batch is
 * every `[key, state]` after the update (Spark's `updateStateByKey`).
 */
export function updateStateByKey<K, V, S>(
  source: DStream<readonly [K, V]>,
  update: (values: V[], previous: S | undefined) => S | undefined,
  options: UpdateStateByKeyOptions<K, S> = {},
): DStream<[K, S]> {
  requireFunction(
    'updateStateByKey',
    'update',
    update,
    'Pass (values, previous) => next state, or undefined to remove the key, e.g. (values, sum = 0) => sum + values.length.',
  );
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('updateStateByKey(options)', options, 'must be an object', 'Pass e.g. { initialState: [["a", 1]] }.');
  }
  const { initialState = [], name } = options;
  if (typeof (initialState as Iterable<unknown>)?.[Symbol.iterator] !== 'function') {
    throw new ConfigError('updateStateByKey initialState', initialState, 'must be an iterable of [key, state] pairs', 'Pass e.g. [["a", 1]] or a Map.');
  }
  const node = new UpdateStateNode(source, update, initialState);
  const stream = source.derive(node);
  node.stream = stream;
  registerState(source as DStream<unknown>, 'updateStateByKey', name, 1, node);
  return stream;
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * State per key (Spark's updateStateByKey): every batch, `update(values, previous)` runs for
     * every key with state or with records in the batch (`values` empty for the former, `previous`
     * undefined for the latter) and returns the new state, or `undefined` to remove the key. Each
     * batch is every `[key, state]` afterwards. Cost grows with the state, not the batch: prefer
     * `mapWithState` for large state. Registered under `options.name` (default: from the lineage).
     *
     * @example
     * words.map((word) => [word, 1] as const)
     *   .updateStateByKey<number>((ones, total = 0) => total + ones.length);
     */
    updateStateByKey<S>(
      this: DStream<readonly [unknown, unknown], Tx>,
      update: (values: PairValue<T>[], previous: S | undefined) => S | undefined,
      options?: UpdateStateByKeyOptions<PairKey<T>, S>,
    ): DStream<[PairKey<T>, S], Tx>;
  }
}

defineOperator('updateStateByKey', updateStateByKey);
