// The bottom layer of the DStream graph: nodes, the stream that wraps one, and how operators
// add their methods. Operator files (./operators) build on this; `./DStream` loads them all.
import type { StreamingContextLike } from '../context/types';
import { sourcePartitionsOf } from './sourcePartitions';

/** The key type of a stream of `[key, value]` pairs (lets `updateStateByKey<S>` name only the state type). */
export type PairKey<T> = T extends readonly [infer K, unknown] ? K : never;
/** The value type of a stream of `[key, value]` pairs. */
export type PairValue<T> = T extends readonly [unknown, infer V] ? V : never;

/**
 * One node of the DStream graph: how a stream's batch at `time` is made from its dependencies'.
 * Spark's DStream subclasses implement the same three members. Nodes never extend `DStream`;
 * `DStream` wraps them.
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
  /**
   * An input that can hand a batch's records over chunk by chunk as it reads them, none kept:
   * `consume` gets each chunk (all of one source partition, whose `topic:partition` key comes
   * with it) and must be done with it when it returns. Used only when the graph lets the stream
   * stream (`isStreamed`, see `planStreaming`); resolves once the whole batch went through.
   */
  streamBatch?(time: number, consume: (records: readonly T[], partition: string | undefined) => void): Promise<void>;
  /**
   * Set by `planStreaming` at start on a node with `streamBatch` when its only reader folds each
   * batch record by record as it arrives and nothing else reads or remembers the batch: its
   * batches then stream instead of being held whole.
   */
  isStreamed?: boolean;
  /**
   * True for a node that reads its one dependency's batch only through `forEachRecord`, once per
   * batch, folding each record as it comes (the aggregations by key, count, reduce, the stateful
   * operators): what lets that dependency stream.
   */
  readonly foldsRecords?: boolean;
  /**
   * True for a node that passes its dependency's records one by one through narrow stages into
   * whatever reads it by record (a fused chain of record stages): streaming passes through it.
   */
  readonly passesRecordsThrough?: boolean;
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
  // Tx: what `foreachBatch` outputs receive as `batch.transaction` (see `BatchTransaction`); every
  // operator's method keeps it (the `declare module` block beside each operator).
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

  /**
   * Hands batch `time`'s records to `consume`: chunk by chunk while they are read and never kept
   * when this stream is streamed (`DStreamNode.isStreamed`), else the remembered batch, one call
   * per run of one source partition (one call for all when their partitions are unknown). Off the
   * slide nothing is consumed. Aggregations read their input through it (`forEachRecord`).
   */
  async forEachChunk(time: number, consume: (records: readonly T[], partition: string | undefined) => void): Promise<void> {
    if ((time - this.context.zeroTimeMs) % this.slideDurationMs !== 0) return;
    const { node } = this;
    if (node.isStreamed === true && node.streamBatch !== undefined && !this.generated.has(time)) {
      await node.streamBatch(time, consume);
      return;
    }
    const records = await this.getOrCompute(time)!;
    const lineage = sourcePartitionsOf(records);
    if (lineage === undefined || lineage.partitions.length === 0) {
      if (records.length > 0) consume(records, undefined);
      return;
    }
    let start = 0;
    for (let run = 0; run < lineage.partitions.length; run++) {
      const end = lineage.ends[run];
      consume(start === 0 && end === records.length ? records : records.slice(start, end), lineage.partitions[run]);
      start = end;
    }
  }

  /** A new stream of this context computed by `node`: how an operator adds its stream to the graph. */
  derive<U>(node: DStreamNode<U>): DStream<U> {
    return new DStream(this.context, node);
  }
}

/**
 * Adds an operator's method to every `DStream`: `stream[name](...args)` runs `operator(stream,
 * ...args)`. Each operator file declares the method (its types and its one doc block) in a
 * `declare module './graph'` block beside the function, then calls this.
 *
 * @example
 * defineOperator('map', map);
 */
export function defineOperator(name: keyof DStream<unknown>, operator: (source: DStream<any>, ...args: any[]) => unknown): void {
  Object.defineProperty(DStream.prototype, name, {
    value: function (this: DStream<unknown>, ...args: unknown[]) {
      return operator(this, ...args);
    },
    writable: true,
    configurable: true,
  });
}
