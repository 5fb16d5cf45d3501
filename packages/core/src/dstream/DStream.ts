import type { StreamingContextLike } from '../context/types';

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
}

/**
 * A discretized stream: a sequence of batches, one every `slideDurationMs`, each computed from
 * the streams it depends on. Operators return new streams; nothing runs until an output
 * operation is registered and the context starts.
 *
 * Each batch is computed once per time and remembered until the scheduler clears it, so two
 * outputs (or a self-join) over one stream read the same records without fetching them twice.
 */
export class DStream<T> {
  /** Batches kept for at least this long after their time (windows raise it on their parents). */
  private rememberMs: number;
  private readonly generated = new Map<number, Promise<readonly T[]>>();

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

  /** Keeps this stream's batches (and, transitively, its dependencies') for at least `durationMs`. */
  remember(durationMs: number): void {
    if (durationMs > this.rememberMs) this.rememberMs = durationMs;
    for (const dependency of this.dependencies) dependency.remember(this.rememberMs);
  }

  /**
   * The batch at `time`, computed once and remembered. Times that are not on this stream's
   * slide (relative to the context's zero time) yield no batch: `undefined`.
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

  /** Forgets batches older than `time - rememberDurationMs`, here and in every dependency. */
  clearMetadata(time: number): void {
    for (const batchTime of this.generated.keys()) {
      if (batchTime <= time - this.rememberMs) this.generated.delete(batchTime);
    }
    for (const dependency of this.dependencies) dependency.clearMetadata(time);
  }
}
