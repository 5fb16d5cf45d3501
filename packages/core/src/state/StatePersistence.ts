import type { StreamingContextLike } from '../context/types';
import { ConfigError, DStreamError } from '../errors';
import type { OffsetStore, OperatorStateWrite, StateWrite } from '../offsets/OffsetStore';
import type { Logger } from '../util/Logger';
import type { StatefulOperator } from './StatefulOperator';
import { stateRegistryOf } from './StateRegistry';

/** The stores of this repository that keep state with their offsets, for error messages. */
export const STATE_STORES =
  'RedisOffsetStore, PostgresOffsetStore, CheckpointOffsetStore, KafkaTransactionalSink with a stateTopic, or InMemoryOffsetStore';

/** Everything `StatePersistence.claim` needs to know about the stream that commits. */
export interface StatePersistenceOptions {
  readonly store: OffsetStore;
  readonly group: string;
  readonly delivery: 'at-most-once' | 'at-least-once' | 'exactly-once';
  readonly logger: Logger;
  /** Names the stream in log lines and errors. */
  readonly source: string;
  /** Monotonic milliseconds, to measure the restore. Default `performance.now`. */
  readonly now?: () => number;
  /**
   * True when the consumer group decides which partitions this process reads (Subscribe,
   * SubscribePattern), so partitions, and the state kept for them, can move between processes.
   */
  readonly isGroupManaged?: boolean;
}

/**
 * The name the state of `operator` is stored under: the operator's own name for state kept for
 * the whole operator (format 1), `<operator>@<topic>:<partition>` for the state of one source
 * partition (format 2). Stores keep each name apart (a Redis hash, the rows of one `operator`, a
 * checkpoint section), so a process loads exactly the partitions it is assigned.
 */
export function stateNameOf(operator: string, partition: string | undefined): string {
  return partition === undefined ? operator : `${operator}@${partition}`;
}

const claimed = new WeakSet<StreamingContextLike>();

/**
 * Keeps the state of a context's stateful operators in the offset store of the Kafka stream that
 * commits its batches: restores it before the first batch and hands each batch's changes to the
 * commit, so state and offsets are written in one atomic step. One per context: the stream that
 * claims it first owns the state.
 */
export class StatePersistence {
  /** Duration of the last `restore`, in milliseconds. */
  restoreMs = 0;

  private constructor(
    private readonly operators: readonly StatefulOperator[],
    private readonly options: StatePersistenceOptions,
    /** False on a store that cannot keep state (then state lives in memory only). */
    readonly isPersistent: boolean,
  ) {}

  /**
   * Decides, before anything connects, how the state of `context`'s stateful operators is kept.
   * Exactly-once with stateful operators on a store without `supportsState` is a `ConfigError`
   * naming the stores that can; at-least-once and at-most-once there keep state in memory only,
   * with a warning. A second Kafka stream of a context with stateful operators is refused: one
   * batch's state changes can only be atomic with one store commit.
   */
  static claim(context: StreamingContextLike, options: StatePersistenceOptions): StatePersistence {
    const operators = stateRegistryOf(context).operators;
    const { store, delivery, logger, source } = options;
    if (operators.length === 0) return new StatePersistence([], options, false);
    const names = operators.map((operator) => operator.name).join(', ');
    // Under a consumer group partitions move between processes, and state with them.
    if (options.isGroupManaged === true) {
      for (const operator of operators) if (operator.canScopeByPartition === true) operator.scopeByPartition!();
    }
    if (claimed.has(context)) {
      throw new ConfigError(
        'stateful operators',
        names,
        'need a single Kafka input stream in their StreamingContext when state is kept with offsets',
        'Read all topics through one createDirectStream (Subscribe to several topics), or run the stateful part in its own job.',
      );
    }
    if (store.supportsState !== true) {
      if (delivery === 'exactly-once') {
        throw new ConfigError(
          'delivery',
          delivery,
          `with stateful operators (${names}) needs an offset store that writes state atomically with offsets; ` +
            `offset store "${store.name}" cannot`,
          `Use ${STATE_STORES}, or delivery "at-least-once" (state then lives in memory only and starts empty after a restart).`,
        );
      }
      claimed.add(context);
      logger.warn(
        `${source}: offset store ${store.name} cannot keep state; the state of ${names} lives in memory only ` +
          `and starts from its initial state after a restart. Use ${STATE_STORES} to keep it`,
      );
      return new StatePersistence(operators, options, false);
    }
    if (options.isGroupManaged === true) {
      const lost = operators.find((operator) => operator.partitionsLostAt !== undefined);
      if (lost !== undefined) {
        throw new ConfigError(
          `stateful operator "${lost.name}"`,
          lost.partitionsLostAt,
          `reads records whose source partition is lost at ${lost.partitionsLostAt}; with a consumer group ` +
            '(ConsumerStrategies.Subscribe) its state is kept per source partition, to move with the partition in a rebalance',
          `Apply ${lost.kind} before ${lost.partitionsLostAt} (state needs keys co-partitioned: each key's records in one partition), ` +
            'or read with ConsumerStrategies.Assign so that one process owns the partitions and the whole state.',
        );
      }
    }
    claimed.add(context);
    return new StatePersistence(operators, options, true);
  }

  /**
   * Reads every operator's state from the store (one read per operator) and restores it, before
   * the first batch. An operator with nothing stored keeps its initial state. Stored state of
   * another kind or state version is a `ConfigError` naming the operator. Logs the time taken.
   */
  async restore(): Promise<void> {
    if (!this.isPersistent) return;
    const { store, logger, source, group } = this.options;
    const now = this.options.now ?? (() => performance.now());
    const started = now();
    let entries = 0;
    let olderFormat = 0;
    for (const operator of this.operators) {
      const loaded = await this.load(operator, undefined);
      if (loaded === undefined) continue;
      operator.restore(loaded);
      entries += loaded.length;
      if (operator.isScoped === true) olderFormat += loaded.length;
    }
    this.restoreMs = now() - started;
    logger.info(
      `${source}: restored the state of ${this.operators.length} operator(s), ${entries} entries, ` +
        `from ${store.name} in ${this.restoreMs.toFixed(1)} ms`,
      { operators: this.operators.map((operator) => operator.name), entries, restoreMs: this.restoreMs },
    );
    if (olderFormat > 0 && this.options.isGroupManaged === true) {
      logger.warn(
        `${source}: ${olderFormat} state entries of group ${JSON.stringify(group)} are kept for a whole operator (the format ` +
          'before state per source partition); each moves to its partition with its key\'s next record. Until none is left, ' +
          'run one process of the group: another would restore them too (see docs/guide/windows-and-state.md, "Stored format and upgrade rules")',
      );
    }
    await this.reportUnknownState();
  }

  /**
   * Loads the stored state of `partitions` (`topic:partition` keys) into every operator that keeps
   * state per source partition, replacing what it held for them: when this process is assigned
   * them, before any batch reads them. Logs the time taken.
   */
  async loadPartitions(partitions: readonly string[]): Promise<void> {
    const scoped = this.operators.filter((operator) => operator.isScoped === true);
    if (!this.isPersistent || scoped.length === 0 || partitions.length === 0) return;
    const now = this.options.now ?? (() => performance.now());
    const started = now();
    let entries = 0;
    for (const operator of scoped) {
      for (const partition of partitions) {
        const loaded = (await this.load(operator, partition)) ?? [];
        operator.loadPartition!(partition, loaded);
        entries += loaded.length;
      }
    }
    const loadMs = now() - started;
    this.restoreMs += loadMs;
    this.options.logger.info(
      `${this.options.source}: loaded the state of ${partitions.length} assigned partition(s), ${entries} entries, ` +
        `from ${this.options.store.name} in ${loadMs.toFixed(1)} ms`,
      { partitions, entries, restoreMs: loadMs },
    );
  }

  /** Forgets the state of `partitions` this process gave up (after its last batch reading them ended). */
  dropPartitions(partitions: Iterable<string>): void {
    for (const partition of partitions) {
      for (const operator of this.operators) if (operator.isScoped === true) operator.dropPartition!(partition);
    }
  }

  /** The stored entries under `operator`'s name for `partition`, checking kind and version; undefined when nothing is stored. */
  private async load(operator: StatefulOperator, partition: string | undefined): Promise<readonly (readonly [unknown, unknown])[] | undefined> {
    const { store, group, source } = this.options;
    const name = stateNameOf(operator.name, partition);
    let loaded;
    try {
      loaded = await store.loadState!(group, name);
    } catch (error) {
      if (error instanceof DStreamError) throw error;
      throw new DStreamError(`${source}: reading the state of ${name} failed: ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
      });
    }
    if (loaded === undefined) return undefined;
    if (loaded.kind !== operator.kind || loaded.stateVersion !== operator.stateVersion) {
      throw new ConfigError(
        `stored state of operator "${operator.name}"`,
        { kind: loaded.kind, stateVersion: loaded.stateVersion },
        `must have been written by the same kind of operator and state version as the job now runs ` +
          `(${operator.kind}, state version ${operator.stateVersion})`,
        `Give the new operator another name (StateSpec.name / { name }) to start it empty, or delete the stored state of ` +
          `"${operator.name}" in group ${JSON.stringify(group)} to drop it (dstream offsets state --remove ${operator.name} --execute).`,
      );
    }
    return loaded.entries;
  }

  /**
   * Logs the stored state of `group` that no operator of the job reads (an operator removed or
   * renamed): it stays in the store until removed (`dstream offsets state --remove`). Stores that
   * cannot list their state names (`listState`) are not asked.
   */
  private async reportUnknownState(): Promise<void> {
    const { store, group, logger, source } = this.options;
    if (store.listState === undefined) return;
    const names = await store.listState(group);
    const unknown = unknownStateNames(names, this.operators);
    if (unknown.length === 0) return;
    logger.warn(
      `${source}: offset store ${store.name} keeps state of group ${JSON.stringify(group)} that no operator of this job reads: ` +
        `${unknown.join(', ')}. It stays there until removed: dstream offsets state --group ${group} ${unknown.map((name) => `--remove ${name}`).join(' ')} --store <url> --execute`,
      { group, operators: unknown },
    );
  }

  /** Batch `time`'s state changes, for the commit: undefined when state is not persisted. */
  readonly changesOf = (time: number, partitions?: ReadonlySet<string>): StateWrite | undefined => {
    if (!this.isPersistent) return undefined;
    const writes: OperatorStateWrite[] = [];
    for (const operator of this.operators) {
      const { upserts, removals, byPartition } = operator.changesOf(time);
      const { kind, stateVersion } = operator;
      if (upserts.length > 0 || removals.length > 0) writes.push({ operator: operator.name, kind, stateVersion, upserts, removals });
      for (const [partition, changes] of byPartition ?? []) {
        // Only partitions the batch committed: state of a partition given up meanwhile is its next owner's.
        if (partitions !== undefined && !partitions.has(partition)) continue;
        if (changes.upserts.length === 0 && changes.removals.length === 0) continue;
        writes.push({ operator: stateNameOf(operator.name, partition), kind, stateVersion, ...changes });
      }
    }
    return writes;
  };
}

/**
 * The stored state names (see `stateNameOf`) that belong to none of `operators`, by operator:
 * `sessions` for `sessions` and `sessions@clicks:3`.
 */
export function unknownStateNames(names: readonly string[], operators: readonly Pick<StatefulOperator, 'name'>[]): string[] {
  const known = new Set(operators.map((operator) => operator.name));
  const unknown = new Set<string>();
  for (const name of names) {
    if (known.has(name)) continue;
    const at = name.lastIndexOf('@');
    if (at > 0 && known.has(name.slice(0, at)) && /:\d+$/.test(name)) continue;
    unknown.add(at > 0 && /:\d+$/.test(name) ? name.slice(0, at) : name);
  }
  return [...unknown].filter((name) => !known.has(name)).sort();
}
