import { ConfigError } from '../errors';
import type { State } from './State';

/** `mapWithState`'s function: called per record, and once with `undefined` for a key that timed out. */
export type MappingFunction<K, V, S, M> = (key: K, value: V | undefined, state: State<S>) => M;

/**
 * What `mapWithState` does (Spark's `StateSpec`): the function, and optionally an initial state,
 * an idle timeout and the name the state is stored under. Immutable: each setter returns a new spec.
 *
 * @example
 * const spec = StateSpec.function((user: string, click: Click | undefined, state: State<number>) => {
 *   if (state.isTimingOut()) return [user, state.get(), 'ended'] as const;
 *   state.update((state.getOption() ?? 0) + 1);
 *   return [user, state.get(), 'active'] as const;
 * })
 *   .initialState([['alice', 3]])
 *   .timeout(30 * 60_000)
 *   .name('sessions');
 */
export class StateSpec<K, V, S, M> {
  private constructor(
    readonly mappingFunction: MappingFunction<K, V, S, M>,
    readonly initialStatePairs: readonly (readonly [K, S])[],
    readonly timeoutMs: number | undefined,
    readonly stateName: string | undefined,
  ) {}

  /** A spec calling `fn(key, value, state)` for every record of the stream. */
  static function<K, V, S, M>(fn: MappingFunction<K, V, S, M>): StateSpec<K, V, S, M> {
    if (typeof fn !== 'function') {
      throw new ConfigError('StateSpec.function(fn)', fn, 'must be a function', 'Pass (key, value, state) => mapped.');
    }
    return new StateSpec(fn, [], undefined, undefined);
  }

  /** The state keys start with, before the first batch: `[key, state]` pairs. */
  initialState(pairs: Iterable<readonly [K, S]>): StateSpec<K, V, S, M> {
    if (pairs === null || typeof (pairs as Iterable<unknown>)?.[Symbol.iterator] !== 'function') {
      throw new ConfigError('StateSpec.initialState(pairs)', pairs, 'must be an iterable of [key, state] pairs', 'Pass e.g. [["a", 1]] or a Map.');
    }
    return new StateSpec(this.mappingFunction, [...pairs], this.timeoutMs, this.stateName);
  }

  /**
   * Removes the state of keys that received no record for more than `idleMs` (a multiple of the
   * batch interval is clearest), calling the function once for each with `value` undefined and
   * `state.isTimingOut()` true.
   */
  timeout(idleMs: number): StateSpec<K, V, S, M> {
    if (typeof idleMs !== 'number' || !Number.isSafeInteger(idleMs) || idleMs <= 0) {
      throw new ConfigError('StateSpec.timeout(idleMs)', idleMs, 'must be a positive integer number of milliseconds', 'Pass e.g. 60000.');
    }
    return new StateSpec(this.mappingFunction, this.initialStatePairs, idleMs, this.stateName);
  }

  /** The name the state is stored under (default: derived from the stream's lineage). */
  name(name: string): StateSpec<K, V, S, M> {
    return new StateSpec(this.mappingFunction, this.initialStatePairs, this.timeoutMs, name);
  }
}
