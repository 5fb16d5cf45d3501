import { IllegalStateError } from '../errors';

/**
 * The state of one key, as `mapWithState`'s function sees it (Spark's `State`): read it, replace
 * it, remove it. One handle is reused for every call, so do not keep it past the call.
 *
 * @example
 * const spec = StateSpec.function((word: string, one: number | undefined, state: State<number>) => {
 *   const total = (state.getOption() ?? 0) + (one ?? 0);
 *   if (!state.isTimingOut()) state.update(total);
 *   return [word, total] as const;
 * });
 */
export interface State<S> {
  /** Whether the key has state (before this call's `update`/`remove`, or after them). */
  exists(): boolean;
  /** The key's state; throws `IllegalStateError` when it has none (check `exists()` or use `getOption()`). */
  get(): S;
  /** The key's state, or `undefined` when it has none. */
  getOption(): S | undefined;
  /** Sets the key's state. Throws `IllegalStateError` when the key is timing out or its state was removed in this call. */
  update(state: S): void;
  /** Removes the key's state. Throws `IllegalStateError` when the key is timing out or its state was already removed. */
  remove(): void;
  /** True in the one call made for a key that timed out (its value is then `undefined`). */
  isTimingOut(): boolean;
}

/** The `State` handle `mapWithState` reuses for every call: wrap, call the user function, read the outcome. */
export class StateHandle<S> implements State<S> {
  private state: S | undefined;
  private hasState = false;
  private timingOut = false;
  /** Whether the call updated the state. */
  isUpdated = false;
  /** Whether the call removed the state. */
  isRemoved = false;

  /** Points the handle at a key with (`hasState`) or without state. */
  wrap(hasState: boolean, state: S | undefined, isTimingOut: boolean): void {
    this.hasState = hasState;
    this.state = state;
    this.timingOut = isTimingOut;
    this.isUpdated = false;
    this.isRemoved = false;
  }

  exists(): boolean {
    return this.hasState;
  }

  get(): S {
    if (!this.hasState) {
      throw new IllegalStateError('State.get() on a key without state; check exists() first, or use getOption()');
    }
    return this.state as S;
  }

  getOption(): S | undefined {
    return this.hasState ? this.state : undefined;
  }

  update(state: S): void {
    if (this.timingOut) throw new IllegalStateError('cannot update the state of a key that is timing out');
    if (this.isRemoved) throw new IllegalStateError('cannot update the state after it has been removed');
    this.state = state;
    this.hasState = true;
    this.isUpdated = true;
  }

  remove(): void {
    if (this.timingOut) throw new IllegalStateError('cannot remove the state of a key that is timing out: it is removed already');
    if (this.isRemoved) throw new IllegalStateError('cannot remove the state that has already been removed');
    this.state = undefined;
    this.hasState = false;
    this.isRemoved = true;
    this.isUpdated = false;
  }

  isTimingOut(): boolean {
    return this.timingOut;
  }

  /** The state after the call. */
  get current(): S | undefined {
    return this.state;
  }
}
