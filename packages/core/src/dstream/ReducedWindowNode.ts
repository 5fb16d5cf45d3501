import { type StateChanges, StateChangeLog } from '../state/StatefulOperator';
import { registerState } from '../state/StateRegistry';
import type { DStream, DStreamNode } from './graph';
import { forEachRecord } from './FusedNode';
import { userFunctionError } from './userFunctionError';

/** What `reducedWindowStream` builds on. */
export interface ReducedWindowSpec<K, V> {
  /** Operator name in errors and the default state name. */
  readonly operator: string;
  readonly reduce: (accumulated: V, value: V) => V;
  /** With it, each window is the previous one plus new slices minus old ones (Spark's invReduceFunc). */
  readonly invReduce: ((accumulated: V, removed: V) => V) | undefined;
  /** Keeps a pair in the window's output (and, with `invReduce`, in its state) when it returns true. */
  readonly filter: ((pair: [K, V]) => boolean) | undefined;
  readonly windowMs: number;
  readonly slideMs: number;
  readonly name: string | undefined;
}

/** Stored keys of a windowed reduction's state (values in the comments). */
type StoredKey =
  | readonly ['slice', number] // [[key, value], …]: one parent batch reduced by key
  | readonly ['window', unknown] // the key's value in the last window (with an inverse function)
  | readonly ['windowTime']; // time of the last window (with an inverse function)

/**
 * The node of every windowed reduction (`reduceByKeyAndWindow`, `reduceByWindow`, `countByWindow`,
 * `countByValueAndWindow`), Spark's `ReducedWindowedDStream`. Each parent batch is reduced by key
 * into a *slice* while it is current (`prepare`), so the parent's records die with their batch;
 * slices are kept while they lie in a window. Without an inverse function each window folds its
 * slices, oldest first. With one, the window is the previous window's values, minus (`invReduce`)
 * the slices that left it, plus (`reduce`) those that entered it, then `filter`: a cost per slide
 * proportional to the keys of two slides rather than of the whole window.
 *
 * The slices, the last window and its time are the operator's state, registered under a stable
 * name, so a restarted job can continue its windows where it stopped.
 */
class ReducedWindowNode<K, V> implements DStreamNode<[K, V]> {
  readonly name: string;
  readonly slideDurationMs: number;
  readonly dependencies: readonly DStream<unknown>[];
  /** Set right after construction. */
  stream!: DStream<[K, V]>;
  /** State is kept per source partition (see `StatefulOperator.scopeByPartition`). */
  isScoped = false;

  scopeByPartition(): void {
    this.isScoped = true;
  }
  /** The state by source partition (undefined: the whole operator's, when not kept per partition). */
  private parts = new Map<string | undefined, WindowPart<K, V>>();
  private lastFoldedTime = -Infinity;
  private lastComputedTime = -Infinity;
  private readonly log = new StateChangeLog();

  constructor(
    private readonly source: DStream<readonly [K, V]>,
    private readonly spec: ReducedWindowSpec<K, V>,
  ) {
    this.name = spec.operator;
    this.slideDurationMs = spec.slideMs;
    this.dependencies = [source];
  }

  /** The parent's batches in `(t - slide, t]` are read while computing `t` if `prepare` missed them. */
  parentRememberMs(rememberMs: number): number {
    return rememberMs + this.spec.slideMs;
  }

  async prepare(time: number): Promise<void> {
    const { context, slideDurationMs } = this.source;
    if (time <= context.zeroTimeMs || (time - context.zeroTimeMs) % slideDurationMs !== 0) return;
    this.log.begin(time);
    await this.fold(time);
  }

  async compute(time: number): Promise<readonly [K, V][]> {
    const { context } = this.source;
    const { windowMs, slideMs } = this.spec;
    // State moves one window at a time: the previous window first (Spark's getOrCompute of the
    // previous window in ReducedWindowedDStream.compute).
    const previousTime = time - slideMs;
    if (previousTime > context.zeroTimeMs && previousTime > this.lastComputedTime) await this.stream.getOrCompute(previousTime);
    this.log.begin(time);
    const parentSlideMs = this.source.slideDurationMs;
    for (let batchTime = time - slideMs + parentSlideMs; batchTime <= time; batchTime += parentSlideMs) {
      if (batchTime > context.zeroTimeMs && batchTime > this.lastFoldedTime) await this.fold(batchTime);
    }
    this.lastComputedTime = time;
    const oldestKept = time - windowMs;
    return this.spec.invReduce === undefined ? this.recompute(oldestKept) : this.update(time, oldestKept);
  }

  /** Reduces the parent's batch at `time` into a slice per source partition. */
  private async fold(time: number): Promise<void> {
    const { reduce, operator } = this.spec;
    const slices = new Map<string | undefined, Map<K, V>>();
    let slice = new Map<K, V>();
    slices.set(undefined, slice);
    const onPartition = (partition: string): void => {
      slice = slices.get(partition) ?? new Map<K, V>();
      slices.set(partition, slice);
    };
    await forEachRecord(
      this.source,
      time,
      (pair) => {
        const key = pair[0];
        const accumulated = slice.get(key);
        if (accumulated === undefined && !slice.has(key)) {
          slice.set(key, pair[1]);
          return;
        }
        try {
          slice.set(key, reduce(accumulated as V, pair[1]));
        } catch (cause) {
          throw userFunctionError(operator, cause, pair);
        }
      },
      this.isScoped ? onPartition : undefined,
    );
    this.lastFoldedTime = time;
    for (const [partition, folded] of slices) {
      // Empty slices are not kept: they add nothing to a window.
      if (folded.size === 0) continue;
      this.partOf(partition).slices.set(time, folded);
      this.log.upsert(['slice', time], [...folded], partition);
    }
  }

  private partOf(partition: string | undefined): WindowPart<K, V> {
    let part = this.parts.get(partition);
    if (part === undefined) {
      part = new WindowPart();
      this.parts.set(partition, part);
    }
    return part;
  }

  /** Without an inverse function: the window folded afresh from its slices. */
  private recompute(oldestKept: number): [K, V][] {
    const windowed = new Map<K, V>();
    for (const [partition, part] of this.parts) {
      this.dropSlicesUpTo(partition, part, oldestKept, undefined);
      for (const slice of part.slices.values()) this.mergeInto(windowed, slice);
    }
    const output: [K, V][] = [];
    const { filter } = this.spec;
    for (const pair of windowed) if (filter === undefined || this.keeps(pair)) output.push(pair);
    return output;
  }

  /** With an inverse function: each partition's previous window minus the slices that left plus those that entered. */
  private update(time: number, oldestKept: number): [K, V][] {
    for (const [partition, part] of this.parts) this.updatePart(partition, part, time, oldestKept);
    if (this.parts.size === 1) return [...this.parts.values().next().value!.window];
    // Keys are co-partitioned, so this is a union; during a move from the whole-operator state of
    // an older format it also adds a key's two halves.
    const merged = new Map<K, V>();
    for (const part of this.parts.values()) this.mergeInto(merged, part.window);
    return [...merged];
  }

  private updatePart(partition: string | undefined, part: WindowPart<K, V>, time: number, oldestKept: number): void {
    const { reduce, invReduce, operator } = this.spec;
    const removed = new Map<K, V>();
    this.dropSlicesUpTo(partition, part, oldestKept, removed);
    const added = new Map<K, V>();
    for (const [sliceTime, slice] of part.slices) if (sliceTime > part.windowTime) this.mergeInto(added, slice);
    const { window } = part;
    const touched: K[] = [];
    for (const [key, value] of removed) {
      const previous = window.get(key);
      // A key without a value in the previous window was filtered out of it: nothing to take away.
      if (previous === undefined && !window.has(key)) continue;
      try {
        window.set(key, invReduce!(previous as V, value));
      } catch (cause) {
        throw userFunctionError(operator, cause, [key, value]);
      }
      touched.push(key);
    }
    for (const [key, value] of added) {
      const previous = window.get(key);
      if (previous === undefined && !window.has(key)) {
        window.set(key, value);
      } else {
        try {
          window.set(key, reduce(previous as V, value));
        } catch (cause) {
          throw userFunctionError(operator, cause, [key, value]);
        }
      }
      touched.push(key);
    }
    const { filter } = this.spec;
    for (const key of touched) {
      if (!window.has(key)) continue;
      const value = window.get(key) as V;
      if (filter !== undefined && !this.keeps([key, value])) {
        window.delete(key);
        this.log.remove(['window', key], partition);
      } else {
        this.log.upsert(['window', key], value, partition);
      }
    }
    part.windowTime = time;
    this.log.upsert(['windowTime'], time, partition);
  }

  /** Forgets a part's slices at or before `time`, merging those already in its window into `removed`. */
  private dropSlicesUpTo(partition: string | undefined, part: WindowPart<K, V>, time: number, removed: Map<K, V> | undefined): void {
    for (const [sliceTime, slice] of part.slices) {
      if (sliceTime > time) break;
      if (removed !== undefined && sliceTime <= part.windowTime) this.mergeInto(removed, slice);
      part.slices.delete(sliceTime);
      this.log.remove(['slice', sliceTime], partition);
    }
  }

  private mergeInto(target: Map<K, V>, slice: Map<K, V>): void {
    const { reduce, operator } = this.spec;
    for (const [key, value] of slice) {
      const accumulated = target.get(key);
      if (accumulated === undefined && !target.has(key)) {
        target.set(key, value);
        continue;
      }
      try {
        target.set(key, reduce(accumulated as V, value));
      } catch (cause) {
        throw userFunctionError(operator, cause, [key, value]);
      }
    }
  }

  private keeps(pair: [K, V]): boolean {
    try {
      return Boolean(this.spec.filter!(pair));
    } catch (cause) {
      throw userFunctionError(this.spec.operator, cause, pair);
    }
  }

  // ---- state handlers (StatefulOperator) ----------------------------------------------------------------------

  changesOf(time: number): StateChanges {
    return this.log.changesOf(time);
  }

  *entries(): Iterable<readonly [unknown, unknown]> {
    for (const part of this.parts.values()) yield* part.entries(this.spec.invReduce !== undefined);
  }

  restore(entries: Iterable<readonly [unknown, unknown]>): void {
    const part = WindowPart.from<K, V>(entries);
    this.parts = new Map([[undefined, part]]);
    this.lastFoldedTime = Math.max(-Infinity, ...part.slices.keys(), part.windowTime);
  }

  loadPartition(partition: string, entries: Iterable<readonly [unknown, unknown]>): void {
    this.parts.set(partition, WindowPart.from<K, V>(entries));
  }

  dropPartition(partition: string): void {
    this.parts.delete(partition);
  }
}

/** The state of one source partition's records in a windowed reduction (or of all records, when not kept per partition). */
class WindowPart<K, V> {
  /** Parent batch time → that batch reduced by key; in time order. */
  slices = new Map<number, Map<K, V>>();
  /** With an inverse function: the last window's values. */
  window = new Map<K, V>();
  /** With an inverse function: the time of the window `window` holds (slices up to it are in it). */
  windowTime = -Infinity;

  static from<K, V>(entries: Iterable<readonly [unknown, unknown]>): WindowPart<K, V> {
    const part = new WindowPart<K, V>();
    const slices: [number, Map<K, V>][] = [];
    for (const [key, value] of entries) {
      const stored = key as StoredKey;
      if (stored[0] === 'slice') slices.push([stored[1], new Map(value as [K, V][])]);
      else if (stored[0] === 'window') part.window.set(stored[1] as K, value as V);
      else if (stored[0] === 'windowTime') part.windowTime = value as number;
    }
    slices.sort((a, b) => a[0] - b[0]);
    part.slices = new Map(slices);
    return part;
  }

  *entries(hasInverse: boolean): Iterable<readonly [unknown, unknown]> {
    for (const [time, slice] of this.slices) yield [['slice', time], [...slice]];
    if (!hasInverse) return;
    for (const [key, value] of this.window) yield [['window', key], value];
    if (this.windowTime !== -Infinity) yield [['windowTime'], this.windowTime];
  }
}

/**
 * A windowed reduction of `source` by key, registered as a stateful operator with the context:
 * the stream every windowed reduce operator returns (or maps).
 */
export function reducedWindowStream<K, V>(source: DStream<readonly [K, V]>, spec: ReducedWindowSpec<K, V>): DStream<[K, V]> {
  const node = new ReducedWindowNode(source, spec);
  const stream = source.derive<[K, V]>(node);
  node.stream = stream;
  stream.remember(stream.rememberDurationMs);
  registerState(source as DStream<unknown>, spec.operator, spec.name, 1, node);
  return stream;
}
