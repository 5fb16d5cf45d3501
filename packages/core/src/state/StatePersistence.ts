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
    const { store, group, logger, source } = this.options;
    const now = this.options.now ?? (() => performance.now());
    const started = now();
    let entries = 0;
    for (const operator of this.operators) {
      let loaded;
      try {
        loaded = await store.loadState!(group, operator.name);
      } catch (error) {
        if (error instanceof DStreamError) throw error;
        throw new DStreamError(`${source}: reading the state of ${operator.name} failed: ${(error as Error)?.message ?? String(error)}`, {
          cause: error,
        });
      }
      if (loaded === undefined) continue;
      if (loaded.kind !== operator.kind || loaded.stateVersion !== operator.stateVersion) {
        throw new ConfigError(
          `stored state of operator "${operator.name}"`,
          { kind: loaded.kind, stateVersion: loaded.stateVersion },
          `must have been written by the same kind of operator and state version as the job now runs ` +
            `(${operator.kind}, state version ${operator.stateVersion})`,
          `Give the new operator another name (StateSpec.name / { name }) to start it empty, or delete the stored state of ` +
            `"${operator.name}" in group ${JSON.stringify(group)} to drop it.`,
        );
      }
      operator.restore(loaded.entries);
      entries += loaded.entries.length;
    }
    this.restoreMs = now() - started;
    logger.info(
      `${source}: restored the state of ${this.operators.length} operator(s), ${entries} entries, ` +
        `from ${store.name} in ${this.restoreMs.toFixed(1)} ms`,
      { operators: this.operators.map((operator) => operator.name), entries, restoreMs: this.restoreMs },
    );
  }

  /** Batch `time`'s state changes, for the commit: undefined when state is not persisted. */
  readonly changesOf = (time: number): StateWrite | undefined => {
    if (!this.isPersistent) return undefined;
    const writes: OperatorStateWrite[] = [];
    for (const operator of this.operators) {
      const { upserts, removals } = operator.changesOf(time);
      if (upserts.length === 0 && removals.length === 0) continue;
      writes.push({ operator: operator.name, kind: operator.kind, stateVersion: operator.stateVersion, upserts, removals });
    }
    return writes;
  };
}
