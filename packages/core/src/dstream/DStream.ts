import type { Observable, OperatorFunction } from 'rxjs';
import type { BatchContext, StreamingContextLike } from '../context/types';
import type { StateNameOptions } from '../state/StateRegistry';
import type { StateSpec } from '../state/StateSpec';
import { type Batch, batches$ } from './operators/batches$';
import { cogroup } from './operators/cogroup';
import { count } from './operators/count';
import { countByValue } from './operators/countByValue';
import { countByValueAndWindow } from './operators/countByValueAndWindow';
import { countByWindow } from './operators/countByWindow';
import { filter } from './operators/filter';
import { flatMap } from './operators/flatMap';
import { flatMapValues } from './operators/flatMapValues';
import { foreachBatch } from './operators/foreachBatch';
import { fullOuterJoin } from './operators/fullOuterJoin';
import { groupByKey } from './operators/groupByKey';
import { groupByKeyAndWindow } from './operators/groupByKeyAndWindow';
import { join } from './operators/join';
import { leftOuterJoin } from './operators/leftOuterJoin';
import { map } from './operators/map';
import { mapPartitions } from './operators/mapPartitions';
import { type MapWithStateDStream, mapWithState } from './operators/mapWithState';
import { mapValues } from './operators/mapValues';
import { pipe } from './operators/pipe';
import { type PrintSink, print } from './operators/print';
import { reduce } from './operators/reduce';
import { type WidenLiteral, reduceByKey } from './operators/reduceByKey';
import { type ReduceByKeyAndWindowOptions, reduceByKeyAndWindow } from './operators/reduceByKeyAndWindow';
import { reduceByWindow } from './operators/reduceByWindow';
import { rightOuterJoin } from './operators/rightOuterJoin';
import { saveAsTextFiles } from './operators/saveAsTextFiles';
import { transform } from './operators/transform';
import { union } from './operators/union';
import { type UpdateStateByKeyOptions, updateStateByKey } from './operators/updateStateByKey';
import { type WindowOptions, window } from './operators/window';

/** The key type of a stream of `[key, value]` pairs (lets `updateStateByKey<S>` name only the state type). */
export type PairKey<T> = T extends readonly [infer K, unknown] ? K : never;
/** The value type of a stream of `[key, value]` pairs. */
export type PairValue<T> = T extends readonly [unknown, infer V] ? V : never;

/**
 * One node of the DStream graph: how a stream's batch at `time` is made from its dependencies'.
 * Spark's DStream subclasses implement the same three members. Nodes never extend `DStream`;
 * `DStream` wraps them, which keeps operator files free of import cycles.
 */
export interface DStreamNode<T> {
  /** Operator name used in errors and the graph's description ("map", "reduceByKey", …). */
  readonly name: string;
  /** Interval at which this stream produces batches (the batch interval unless windowed). */
  readonly slideDurationMs: number;
  /** Streams this one is computed from. */
  readonly dependencies: readonly DStream<unknown>[];
  /** The batch's records at `time`, a multiple of `slideDurationMs` from the context's zero time. */
  compute(time: number): readonly T[] | Promise<readonly T[]>;
  /**
   * How long the dependencies must remember their batches when this stream remembers its own for
   * `rememberMs` (Spark's `parentRememberDuration`): a window adds its window. Default: `rememberMs`.
   */
  parentRememberMs?(rememberMs: number): number;
  /**
   * Called at every batch time, after the dependencies were prepared and before any output reads
   * the graph: how windows and stateful operators see each parent batch while it is the current
   * one (before its offsets are committed), even on times their own slide skips.
   */
  prepare?(time: number): Promise<void>;
  /**
   * True for an input whose batch holds the records read from Kafka themselves (topic, partition,
   * offset as in the log), so that a function failing on one of them charges that source record.
   */
  readonly yieldsSourceRecords?: boolean;
  /**
   * True when each output record's source partition is known from the inputs' (see
   * `sourcePartitions`): what lets the state of a stateful operator downstream be kept per
   * partition. Narrow chains without mapPartitions, union, window and the by-key aggregations keep it.
   */
  readonly keepsSourcePartitions?: boolean;
  /** Set when a stateful operator downstream keeps state per source partition: a key in two partitions is then an error. */
  checksKeyPartitions?: boolean;
}

/**
 * A discretized stream: a sequence of batches, one every `slideDurationMs`, each computed from
 * the streams it depends on. Operators return new streams; nothing runs until an output
 * operation is registered and the context starts.
 *
 * Each batch is computed once per time and remembered until the scheduler clears it, so two
 * outputs (or a self-join) over one stream read the same records without fetching them twice.
 *
 * Narrow operators (`map`, `filter`, `flatMap`, `mapPartitions`, `mapValues`, `flatMapValues`)
 * chained on each other fuse into one node over the first one's parent, whose batch runs through
 * all of them in a single loop, as Spark pipelines a stage. Aggregations and joins are stage
 * boundaries. Operators on key-value pairs (`[key, value]` tuples) compare keys as a JS `Map`
 * does (SameValueZero): strings, numbers and booleans by value, objects and arrays by identity.
 *
 * @example
 * const counts = lines
 *   .flatMap((line) => line.split(' '))
 *   .map((word) => [word, 1] as const)
 *   .reduceByKey((a, b) => a + b);
 * counts.print();
 */
export class DStream<T, Tx = unknown> {
  // Tx: what `foreachBatch` outputs receive as `batch.transaction` (see `BatchTransaction`).
  /** Batches kept for at least this long after their time (windows raise it on their parents). */
  private rememberMs: number;
  private readonly generated = new Map<number, Promise<readonly T[]>>();
  private preparedTime: number | undefined;
  private preparing: Promise<void> = Promise.resolve();

  constructor(
    readonly context: StreamingContextLike,
    readonly node: DStreamNode<T>,
  ) {
    context.assertCanAddOperation(node.name);
    this.rememberMs = node.slideDurationMs;
  }

  get slideDurationMs(): number {
    return this.node.slideDurationMs;
  }

  get dependencies(): readonly DStream<unknown>[] {
    return this.node.dependencies;
  }

  /** How long computed batches are kept (at least one slide). */
  get rememberDurationMs(): number {
    return this.rememberMs;
  }

  /**
   * Keeps this stream's batches for at least `durationMs`, and its dependencies' for as long as
   * this stream's node needs them then (a window's parent: this long plus the window), as Spark's
   * `remember` propagates through the graph.
   */
  remember(durationMs: number): void {
    if (durationMs > this.rememberMs) this.rememberMs = durationMs;
    const parentMs = this.node.parentRememberMs?.(this.rememberMs) ?? this.rememberMs;
    for (const dependency of this.dependencies) dependency.remember(parentMs);
  }

  /** Times of the batches computed and still remembered, oldest first: what `clearMetadata` has not freed yet. */
  get rememberedBatchTimesMs(): number[] {
    return [...this.generated.keys()].sort((a, b) => a - b);
  }

  /**
   * Runs the `prepare` hook of every node this stream depends on (dependencies first, each node
   * once per time) for batch `time`. Outputs call it at every batch before reading their stream,
   * so windows and stateful operators take in each parent batch while it is current.
   */
  prepare(time: number): Promise<void> {
    if (this.preparedTime !== time) {
      this.preparedTime = time;
      this.preparing = this.runPrepare(time);
    }
    return this.preparing;
  }

  private async runPrepare(time: number): Promise<void> {
    for (const dependency of this.dependencies) await dependency.prepare(time);
    if (this.node.prepare !== undefined) await this.node.prepare(time);
  }

  /**
   * The batch at `time`, computed once and remembered. Times that are not on this stream's slide
   * (relative to the context's zero time) yield no batch: `undefined`. An output calls
   * `prepare(time)` first, at every batch, so that the windows and stateful operators upstream
   * have taken in their parents' batches.
   */
  getOrCompute(time: number): Promise<readonly T[]> | undefined {
    if ((time - this.context.zeroTimeMs) % this.slideDurationMs !== 0) return undefined;
    let batch = this.generated.get(time);
    if (batch === undefined) {
      batch = Promise.resolve().then(() => this.node.compute(time));
      this.generated.set(time, batch);
      // A failed batch must not be remembered: the retry after a restart computes it afresh.
      batch.catch(() => this.generated.delete(time));
    }
    return batch;
  }

  /**
   * Forgets batch `time`, here and in every dependency, and lets `prepare(time)` run again: how a
   * batch is recomputed from its inputs when the scheduler retries it. Earlier batches stay.
   */
  forgetBatch(time: number): void {
    this.generated.delete(time);
    if (this.preparedTime === time) {
      this.preparedTime = undefined;
      this.preparing = Promise.resolve();
    }
    for (const dependency of this.dependencies) dependency.forgetBatch(time);
  }

  /**
   * Called once batch `time` completed: forgets batches older than `time - rememberDurationMs`,
   * here and in every dependency. A stream nothing asked to remember longer than its slide (no
   * window, no `remember`) forgets batch `time` too: only computations at `time` read it, and they
   * are done, so its records need not stay in memory while the next batch runs.
   */
  clearMetadata(time: number): void {
    const oldestKept = this.rememberMs <= this.slideDurationMs ? time + 1 : time - this.rememberMs + 1;
    for (const batchTime of this.generated.keys()) {
      if (batchTime < oldestKept) this.generated.delete(batchTime);
    }
    for (const dependency of this.dependencies) dependency.clearMetadata(time);
  }

  // ---- narrow transformations, fused -------------------------------------------------------

  /**
   * A stream of `fn(record)` for every record. Fused with the narrow operators around it.
   * A throw becomes a `RecordProcessingError` naming the Kafka record being processed.
   *
   * @example
   * const values = kafkaStream.map((record) => record.value.toString());
   */
  map<U>(fn: (record: T) => U): DStream<U, Tx> {
    return sameTransaction(map(this, fn));
  }

  /**
   * The records for which `fn` returns true (a type guard narrows the element type). Fused.
   *
   * @example
   * const errors = lines.filter((line) => line.includes('ERROR'));
   */
  filter<S extends T>(fn: (record: T) => record is S): DStream<S, Tx>;
  filter(fn: (record: T) => boolean): DStream<T, Tx>;
  filter(fn: (record: T) => boolean): DStream<T, Tx> {
    return sameTransaction(filter(this, fn));
  }

  /**
   * Every element of the iterable `fn` returns for each record (an array, a Set, a generator). Fused.
   *
   * @example
   * const words = lines.flatMap((line) => line.split(' '));
   */
  flatMap<U>(fn: (record: T) => Iterable<U>): DStream<U, Tx> {
    return sameTransaction(flatMap(this, fn));
  }

  /**
   * The elements of the iterable `fn` returns for the batch's records taken all at once. In
   * dstream a batch is one partition, so `fn` runs once per batch: the place to set up something
   * costly (a parser, a connection from a pool) once rather than per record. Fused; after other
   * narrow operators, their output is gathered into the array `fn` receives.
   *
   * @example
   * const parsed = lines.mapPartitions((records) => {
   *   const parser = createParser();
   *   return records.map((line) => parser.parse(line));
   * });
   */
  mapPartitions<U>(fn: (records: readonly T[]) => Iterable<U>): DStream<U, Tx> {
    return sameTransaction(mapPartitions(this, fn));
  }

  /**
   * `[key, fn(value)]` for every `[key, value]` pair. Fused.
   *
   * @example
   * const lengths = pairs.mapValues((text) => text.length);
   */
  mapValues<K, V, W>(this: DStream<readonly [K, V], Tx>, fn: (value: V) => W): DStream<[K, W], Tx> {
    return sameTransaction(mapValues(this, fn));
  }

  /**
   * One `[key, w]` per element `w` of the iterable `fn(value)`, for every `[key, value]` pair. Fused.
   *
   * @example
   * const tags = posts.flatMapValues((post) => post.tags);
   */
  flatMapValues<K, V, W>(this: DStream<readonly [K, V], Tx>, fn: (value: V) => Iterable<W>): DStream<[K, W], Tx> {
    return sameTransaction(flatMapValues(this, fn));
  }

  // ---- whole-batch transformations --------------------------------------------------------

  /**
   * Each batch replaced by what `fn(records, time)` returns or resolves to (Spark's transform):
   * any batch-level logic, including asynchronous lookups. A throw or rejection becomes a
   * `RecordProcessingError` naming `transform`.
   *
   * @example
   * const enriched = events.transform(async (records) => enrich(records, await loadRates()));
   */
  transform<U>(fn: (records: readonly T[], time: number) => Iterable<U> | Promise<Iterable<U>>): DStream<U, Tx> {
    return sameTransaction(transform(this, fn));
  }

  /**
   * Each batch run through RxJS operators: the batch at `time` is what the chain emits for an
   * Observable of that batch's records, which completes at the end of the batch. Operators see
   * one batch at a time, so stateful ones (`scan`, `distinct`, `bufferCount`, `take`) start afresh
   * every batch: combine batches with `window`, `reduceByKeyAndWindow` or `mapWithState`. The
   * chain must complete once its input does; asynchronous operators (`mergeMap` over promises,
   * `delay`) hold the batch until they complete. An error in the chain fails the batch with a
   * `RecordProcessingError` naming `pipe`. Costlier per record than the fused operators (see the
   * RxJS guide): use `map`/`filter` for plain per-record work.
   *
   * @example
   * import { bufferCount, distinct, map } from 'rxjs';
   * const pages = clicks.pipe(map((click) => click.page), distinct(), bufferCount(100));
   */
  pipe(): DStream<T, Tx>;
  pipe<A>(op1: OperatorFunction<T, A>): DStream<A, Tx>;
  pipe<A, B>(op1: OperatorFunction<T, A>, op2: OperatorFunction<A, B>): DStream<B, Tx>;
  pipe<A, B, C>(op1: OperatorFunction<T, A>, op2: OperatorFunction<A, B>, op3: OperatorFunction<B, C>): DStream<C, Tx>;
  pipe<A, B, C, D>(
    op1: OperatorFunction<T, A>,
    op2: OperatorFunction<A, B>,
    op3: OperatorFunction<B, C>,
    op4: OperatorFunction<C, D>,
  ): DStream<D, Tx>;
  pipe<A, B, C, D, E>(
    op1: OperatorFunction<T, A>,
    op2: OperatorFunction<A, B>,
    op3: OperatorFunction<B, C>,
    op4: OperatorFunction<C, D>,
    op5: OperatorFunction<D, E>,
  ): DStream<E, Tx>;
  pipe<A, B, C, D, E, F>(
    op1: OperatorFunction<T, A>,
    op2: OperatorFunction<A, B>,
    op3: OperatorFunction<B, C>,
    op4: OperatorFunction<C, D>,
    op5: OperatorFunction<D, E>,
    op6: OperatorFunction<E, F>,
  ): DStream<F, Tx>;
  pipe<A, B, C, D, E, F, G>(
    op1: OperatorFunction<T, A>,
    op2: OperatorFunction<A, B>,
    op3: OperatorFunction<B, C>,
    op4: OperatorFunction<C, D>,
    op5: OperatorFunction<D, E>,
    op6: OperatorFunction<E, F>,
    op7: OperatorFunction<F, G>,
  ): DStream<G, Tx>;
  pipe<A, B, C, D, E, F, G, H>(
    op1: OperatorFunction<T, A>,
    op2: OperatorFunction<A, B>,
    op3: OperatorFunction<B, C>,
    op4: OperatorFunction<C, D>,
    op5: OperatorFunction<D, E>,
    op6: OperatorFunction<E, F>,
    op7: OperatorFunction<F, G>,
    op8: OperatorFunction<G, H>,
  ): DStream<H, Tx>;
  pipe<A, B, C, D, E, F, G, H, I>(
    op1: OperatorFunction<T, A>,
    op2: OperatorFunction<A, B>,
    op3: OperatorFunction<B, C>,
    op4: OperatorFunction<C, D>,
    op5: OperatorFunction<D, E>,
    op6: OperatorFunction<E, F>,
    op7: OperatorFunction<F, G>,
    op8: OperatorFunction<G, H>,
    op9: OperatorFunction<H, I>,
  ): DStream<I, Tx>;
  pipe<A, B, C, D, E, F, G, H, I>(
    op1: OperatorFunction<T, A>,
    op2: OperatorFunction<A, B>,
    op3: OperatorFunction<B, C>,
    op4: OperatorFunction<C, D>,
    op5: OperatorFunction<D, E>,
    op6: OperatorFunction<E, F>,
    op7: OperatorFunction<F, G>,
    op8: OperatorFunction<G, H>,
    op9: OperatorFunction<H, I>,
    ...operators: OperatorFunction<any, any>[]
  ): DStream<unknown, Tx>;
  pipe(...operators: OperatorFunction<any, any>[]): DStream<unknown, Tx> {
    return sameTransaction(pipe(this, operators));
  }

  /**
   * This stream's records followed by each other stream's, batch by batch. All streams must
   * belong to this context and have this stream's slide (else `ConfigError`).
   *
   * @example
   * const all = clicks.union(views, purchases);
   */
  union(...others: DStream<T>[]): DStream<T, Tx> {
    return sameTransaction(union(this, others));
  }

  // ---- aggregations: each a stage boundary ------------------------------------------------

  /**
   * One record per batch: how many records it has (0 for an empty batch).
   *
   * @example
   * events.count().print();
   */
  count(): DStream<number, Tx> {
    return sameTransaction(count(this));
  }

  /**
   * One `[value, count]` per distinct record of the batch, in first-seen order. Records are
   * compared with `Map` semantics (SameValueZero: primitives by value, objects by identity).
   *
   * @example
   * words.countByValue(); // batch ['a', 'b', 'a'] → [['a', 2], ['b', 1]]
   */
  countByValue(): DStream<[T, number], Tx> {
    return sameTransaction(countByValue(this));
  }

  /**
   * The batch's records folded left to right with `fn`: one record, or none for an empty batch.
   *
   * @example
   * amounts.reduce((a, b) => a + b);
   */
  reduce(fn: (accumulated: T, record: T) => T): DStream<T, Tx> {
    return sameTransaction(reduce(this, fn));
  }

  /**
   * One `[key, value]` per key of the batch, its values folded with `fn` in batch order. Keys are
   * compared with `Map` semantics (SameValueZero: primitives by value, objects by identity) and
   * come out in first-seen order. Literal value types are widened (`1` to `number`), so pairs
   * built with `as const` reduce to numbers.
   *
   * @example
   * words.map((word) => [word, 1] as const).reduceByKey((a, b) => a + b); // DStream<[string, number]>
   */
  reduceByKey<K, V>(
    this: DStream<readonly [K, V], Tx>,
    fn: (accumulated: WidenLiteral<V>, value: WidenLiteral<V>) => WidenLiteral<V>,
  ): DStream<[K, WidenLiteral<V>], Tx> {
    return sameTransaction(reduceByKey(this, fn));
  }

  /**
   * One `[key, values]` per key of the batch, values in batch order. Keys are compared with `Map`
   * semantics (SameValueZero: primitives by value, objects by identity), in first-seen order.
   *
   * @example
   * clicks.map((click) => [click.userId, click.url] as const).groupByKey();
   */
  groupByKey<K, V>(this: DStream<readonly [K, V], Tx>): DStream<[K, V[]], Tx> {
    return sameTransaction(groupByKey(this));
  }

  /**
   * `[key, [v, w]]` for every value `v` here and `w` in `other` of a key both batches have
   * (inner join). Keys are compared with `Map` semantics (SameValueZero: primitives by value,
   * objects by identity); output follows this stream's first-seen key order. Both streams must
   * share this context and slide (else `ConfigError`).
   *
   * @example
   * orders.join(payments); // [orderId, [order, payment]]
   */
  join<K, V, W>(this: DStream<readonly [K, V], Tx>, other: DStream<readonly [K, W]>): DStream<[K, [V, W]], Tx> {
    return sameTransaction(join(this, other));
  }

  /**
   * Like `join`, and also `[key, [v, undefined]]` for every value `v` whose key `other` lacks.
   * Keys compared with `Map` semantics; same ordering and slide rules as `join`.
   *
   * @example
   * orders.leftOuterJoin(payments); // unpaid orders come with undefined
   */
  leftOuterJoin<K, V, W>(
    this: DStream<readonly [K, V], Tx>,
    other: DStream<readonly [K, W]>,
  ): DStream<[K, [V, W | undefined]], Tx> {
    return sameTransaction(leftOuterJoin(this, other));
  }

  /**
   * Like `join`, and also `[key, [undefined, w]]` for every value `w` of `other` whose key this
   * stream lacks. Keys compared with `Map` semantics; keys found here come first, in first-seen
   * order, then keys only `other` has. Same slide rule as `join`.
   *
   * @example
   * orders.rightOuterJoin(payments); // payments without an order come with undefined
   */
  rightOuterJoin<K, V, W>(
    this: DStream<readonly [K, V], Tx>,
    other: DStream<readonly [K, W]>,
  ): DStream<[K, [V | undefined, W]], Tx> {
    return sameTransaction(rightOuterJoin(this, other));
  }

  /**
   * Every value of either side, paired with each of the other side's values for its key, or
   * with `undefined` when that side lacks the key. Keys compared with `Map` semantics; this
   * stream's keys first, in first-seen order, then keys only `other` has. Same slide rule as `join`.
   *
   * @example
   * orders.fullOuterJoin(payments);
   */
  fullOuterJoin<K, V, W>(
    this: DStream<readonly [K, V], Tx>,
    other: DStream<readonly [K, W]>,
  ): DStream<[K, [V | undefined, W | undefined]], Tx> {
    return sameTransaction(fullOuterJoin(this, other));
  }

  /**
   * One `[key, [values, otherValues]]` per key present in either batch, with that key's values
   * here and in `other` (one side may be empty). Keys compared with `Map` semantics; this
   * stream's keys first, in first-seen order, then keys only `other` has. Same slide rule as `join`.
   *
   * @example
   * views.cogroup(clicks); // [page, [viewsOfPage, clicksOfPage]]
   */
  cogroup<K, V, W>(this: DStream<readonly [K, V], Tx>, other: DStream<readonly [K, W]>): DStream<[K, [V[], W[]]], Tx> {
    return sameTransaction(cogroup(this, other));
  }

  // ---- windows: each batch covers the last windowMs, every slideMs -------------------------

  /**
   * Every `slideMs` (default: this stream's slide), the records of this stream's batches in
   * `(time - windowMs, time]`, oldest batch first (Spark's window). Both durations must be
   * multiples of this stream's slide. The first windows of a job's first run hold fewer batches. The
   * batches are kept while they lie in a window, as the window's state (`options.name`), so a
   * restarted job's windows hold the batches of the run before (see docs/guide/windows-and-state.md).
   *
   * @example
   * events.window(60_000, 10_000); // every 10 s, the last minute of events
   */
  window(windowMs: number, slideMs?: number, options?: WindowOptions): DStream<T, Tx> {
    return sameTransaction(window(this, windowMs, slideMs, options));
  }

  /**
   * Every `slideMs`, one record: how many records `(time - windowMs, time]` holds (0 when none).
   * Counted incrementally: each slide adds the counts of the batches that entered the window and
   * subtracts those of the batches that left it.
   *
   * @example
   * clicks.countByWindow(60_000, 5_000);
   */
  countByWindow(windowMs: number, slideMs: number, options?: StateNameOptions): DStream<number, Tx> {
    return sameTransaction(countByWindow(this, windowMs, slideMs, options));
  }

  /**
   * Every `slideMs`, the records of `(time - windowMs, time]` folded with `fn` into one record
   * (none if no record was ever seen). With `invFunc`, the inverse of `fn`, each window is the
   * previous one plus the new batches minus the old ones, and once a record was seen every window
   * has a value, as in Spark.
   *
   * @example
   * amounts.reduceByWindow((a, b) => a + b, 60_000, 10_000, (a, b) => a - b);
   */
  reduceByWindow(
    fn: (accumulated: T, record: T) => T,
    windowMs: number,
    slideMs: number,
    invFunc?: (accumulated: T, removed: T) => T,
    options?: StateNameOptions,
  ): DStream<T, Tx> {
    return sameTransaction(reduceByWindow(this, fn, windowMs, slideMs, invFunc, options));
  }

  /**
   * Every `slideMs` (default: this stream's slide), one `[key, value]` per key of the pairs in
   * `(time - windowMs, time]`, folded with `fn` oldest batch first. With `options.invFunc`, the
   * inverse of `fn`, the window is updated incrementally (previous window, plus the batches that
   * entered, minus with `invFunc` those that left) and `options.filterFunc` then drops keys, e.g.
   * those whose count fell to 0; without it, keys stay with the inverse's result. Each batch is
   * reduced by key while current, so records do not outlive their batch. The state (reduced
   * batches, last window) is registered under `options.name` (default: derived from the lineage).
   *
   * @example
   * words.map((word) => [word, 1] as const)
   *   .reduceByKeyAndWindow((a, b) => a + b, 60_000, 10_000, {
   *     invFunc: (a, b) => a - b,
   *     filterFunc: ([, count]) => count > 0,
   *   });
   */
  reduceByKeyAndWindow<K, V>(
    this: DStream<readonly [K, V], Tx>,
    fn: (accumulated: WidenLiteral<V>, value: WidenLiteral<V>) => WidenLiteral<V>,
    windowMs: number,
    slideMs?: number,
    options?: ReduceByKeyAndWindowOptions<K, WidenLiteral<V>>,
  ): DStream<[K, WidenLiteral<V>], Tx> {
    return sameTransaction(reduceByKeyAndWindow(this, fn, windowMs, slideMs, options));
  }

  /**
   * Every `slideMs` (default: this stream's slide), one `[record, count]` per distinct record in
   * `(time - windowMs, time]`, counted incrementally; records whose count fell to 0 are dropped.
   *
   * @example
   * pages.countByValueAndWindow(300_000, 60_000);
   */
  countByValueAndWindow(windowMs: number, slideMs?: number, options?: StateNameOptions): DStream<[T, number], Tx> {
    return sameTransaction(countByValueAndWindow(this, windowMs, slideMs, options));
  }

  /**
   * Every `slideMs` (default: this stream's slide), one `[key, values]` per key of the pairs in
   * `(time - windowMs, time]`, values oldest first (a `window` then a `groupByKey`).
   *
   * @example
   * clicks.map((click) => [click.userId, click.url] as const).groupByKeyAndWindow(60_000);
   */
  groupByKeyAndWindow<K, V>(
    this: DStream<readonly [K, V], Tx>,
    windowMs: number,
    slideMs?: number,
    options?: WindowOptions,
  ): DStream<[K, V[]], Tx> {
    return sameTransaction(groupByKeyAndWindow(this, windowMs, slideMs, options));
  }

  // ---- state: kept per key across batches; each a stage boundary computed every batch ------

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
  ): DStream<[PairKey<T>, S], Tx> {
    return sameTransaction(updateStateByKey(this as DStream<readonly [PairKey<T>, PairValue<T>]>, update, options));
  }

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
  ): MapWithStateDStream<K, S, M, Tx> {
    return mapWithState(this, spec, options) as MapWithStateDStream<K, S, M, Tx>;
  }

  // ---- output operations ------------------------------------------------------------------

  /**
   * Runs `fn` on every batch's records and its `BatchContext` (time, offset ranges, the store
   * transaction under exactly-once): Spark's foreachRDD, the general output. The batch's offsets
   * are committed only after the returned promise resolves (at-least-once and exactly-once); a
   * throw or rejection fails the batch as it is, so a retriable error stays retriable. The
   * transaction's type is the stream's `Tx`, set by `createDirectStream` from its store and
   * delivery (see `BatchTransaction`) and kept by every operator.
   *
   * @example
   * // counts derives from an exactly-once stream on a PostgresOffsetStore: transaction is a PoolClient
   * counts.foreachBatch(async (records, { transaction }) => {
   *   for (const [word, n] of records) await transaction.query('INSERT …', [word, n]);
   * });
   */
  foreachBatch(fn: (records: readonly T[], batch: BatchContext<Tx>) => void | Promise<void>): void {
    foreachBatch<T, Tx>(this, fn);
  }

  /**
   * Prints the first `count` records of every batch to `out` (default `process.stdout`) in
   * Spark's layout: a rule, `Time: <ms> ms`, a rule, the records (strings as they are, anything
   * else as JSON), `...` when the batch has more, and a blank line.
   *
   * @example
   * counts.print(); // first 10 records of each batch
   * counts.print(5, { write: (text) => void lines.push(text) });
   */
  print(count = 10, out: PrintSink = process.stdout): void {
    print(this, count, out);
  }

  /**
   * Writes every batch to the file `<prefix>-<time>` (plus `.<suffix>` when given), one record per
   * line (strings as they are, anything else as JSON), creating the directory if needed. Each
   * file is written atomically (temporary file in the same directory, fsync, rename): a reader
   * never sees a partial file. Files are named by batch time, as Spark names them, and batch times
   * are not kept across restarts: under at-least-once, records of a batch that was in flight at a
   * crash reappear in a file with a later time. Key files by offset range in `foreachBatch` when
   * each record must land once. A string record containing a newline spans several lines.
   *
   * @example
   * counts.saveAsTextFiles('out/counts', 'txt'); // out/counts-1700000000000.txt, …
   */
  saveAsTextFiles(prefix: string, suffix?: string): void {
    saveAsTextFiles(this, prefix, suffix);
  }

  /**
   * An output that emits every batch (`{ time, records, offsetRanges }`) into a hot Observable,
   * for RxJS code. Emission is synchronous when the batch's outputs run: the batch does not wait
   * for asynchronous work a subscriber starts, so its offsets may commit first (use `foreachBatch`
   * when results must be durable before the commit). Batches that run while nobody subscribes are
   * not replayed. The Observable completes once the context has stopped, after the last batch,
   * and errors with the error that stopped the context (a failed batch, an input that failed to
   * start or stop), as `awaitTermination()` rejects; give `subscribe` an error handler, or RxJS
   * reports that error as unhandled.
   *
   * @example
   * counts.batches$().pipe(rxMap((batch) => batch.records.length)).subscribe(console.log);
   */
  batches$(): Observable<Batch<T>> {
    return batches$(this);
  }
}

/**
 * A stream made from this one by an operator: its outputs run in the same batches, so they see
 * the same batch transaction (the operator files build plain `DStream<U>`s).
 */
function sameTransaction<U, Tx>(stream: DStream<U>): DStream<U, Tx> {
  return stream as unknown as DStream<U, Tx>;
}
