import type { OffsetRange } from '../offsets/OffsetRange';
import type { BatchInfo, InputEvent } from '../scheduler/events';
import type { Logger } from '../util/Logger';

/** What output code sees of the batch it is handed, beside the records (Spark's `foreachRDD((rdd, time) => …)`). */
export interface BatchContext<Tx = unknown> {
  /** The batch time in ms since the epoch: a multiple of the batch interval. */
  readonly time: number;
  /** The Kafka offset ranges this batch read, one per partition of every Kafka input (Spark's HasOffsetRanges). */
  readonly offsetRanges: readonly OffsetRange[];
  /**
   * With `delivery: 'exactly-once'` on a transactional store, the store's transaction that commits
   * the batch's offsets: write results through it and they commit atomically with the offsets.
   * Undefined otherwise. Its type follows from the options of the stream the output reads
   * (`BatchTransaction`): `PoolClient` for an exactly-once stream on a `PostgresOffsetStore`,
   * `undefined` for an at-least-once stream.
   */
  readonly transaction: Tx;
}

/**
 * What the context and the scheduler use of a stream in the graph: where it belongs, what it is
 * computed from, and its memory of batches. `DStream` is one; this layer never imports it.
 */
export interface ScheduledStream {
  readonly context: StreamingContextLike;
  /** The stream's node; its name appears in errors. The flags are `DStreamNode`'s (see `planStreaming`). */
  readonly node: {
    readonly name: string;
    readonly streamBatch?: unknown;
    isStreamed?: boolean;
    readonly foldsRecords?: boolean;
    readonly passesRecordsThrough?: boolean;
  };
  /** Interval at which the stream produces batches. */
  readonly slideDurationMs: number;
  /** How long the stream keeps a computed batch (at least one slide; a window over it raises it). */
  readonly rememberDurationMs: number;
  readonly dependencies: readonly ScheduledStream[];
  /** Forgets batch `time` here and upstream, so that a retry computes it afresh. */
  forgetBatch(time: number): void;
  /** Forgets batches older than the stream's remember duration, here and upstream. */
  clearMetadata(time: number): void;
}

/** An output operation registered on the graph: run once per batch, in registration order. */
export interface OutputOperation {
  readonly name: string;
  readonly stream: ScheduledStream;
  run(batch: BatchContext): Promise<void>;
}

/**
 * A source of batches that the scheduler drives: queue streams, Kafka direct streams. Its records
 * reach the graph through the `DStream` it backs; this is its life cycle and commit protocol.
 */
export interface InputSource {
  readonly name: string;
  /**
   * Connects and decides where reading starts. Fails before consuming anything when misconfigured.
   * `signal` aborts when the context is stopped while starting: a long wait should end then.
   */
  start(signal?: AbortSignal): Promise<void>;
  /** Releases clients. Called once, after the last batch ran or was abandoned. */
  stop(): Promise<void>;
  /** Fixes what batch `time` reads (e.g. its offset ranges). Called at each tick, in time order. */
  generate(time: number): Promise<void>;
  /** The offset ranges batch `time` reads; empty for inputs without offsets. */
  offsetRanges(time: number): readonly OffsetRange[];
  /**
   * Runs batch `time`'s outputs and makes the batch's progress durable in the order the input's
   * delivery semantics require: commit then outputs (at-most-once), outputs then commit
   * (at-least-once), or outputs inside the store transaction that commits (exactly-once, where
   * `outputs` receives the transaction). Rejects, without advancing offsets, if outputs fail.
   */
  runBatch(time: number, outputs: (transaction: unknown) => Promise<void>): Promise<void>;
  /** Drops what was kept for batches up to `time` once they are done. */
  clear(time: number): void;
  /**
   * How many records batch `time` read, when the input knows better than its ranges' offset counts
   * (compacted topics, transaction markers, inputs without offsets). Asked after the batch ran.
   */
  recordCount?(time: number): number;
  /** Told after every batch (completed or failed), e.g. to feed a backpressure rate estimator. */
  onBatchCompleted?(info: BatchInfo): void;
  /**
   * Asked when a run of batch `time` failed with `error`: `{ retry: true }` when the input did
   * something that lets a new run go further (its dead-letter policy counted an attempt against
   * a record, or set one aside), so the scheduler recomputes the batch and runs it again;
   * otherwise the error to fail the batch with (the same, or one that says why the policy does
   * not apply). `notRecomputable`: why the graph cannot run the batch again, if it cannot.
   */
  onBatchError?(time: number, error: Error, notRecomputable?: string): BatchErrorDecision;
  /** Records batch `time` set aside as dead letters, for its BatchInfo. Asked after the batch ran. */
  deadLetterCount?(time: number): number;
}

/** What an input decides about a failed batch run (see `InputSource.onBatchError`). */
export type BatchErrorDecision = { readonly retry: true } | { readonly retry: false; readonly error: Error };

/** The part of a StreamingContext that streams talk to. */
export interface StreamingContextLike {
  readonly batchIntervalMs: number;
  /** The time of the first batch minus one interval; batch times are `zeroTimeMs + k * slide`. Set at start. */
  readonly zeroTimeMs: number;
  /** Adds an input source; the scheduler starts it, generates its batches and commits them. */
  registerInput(input: InputSource): void;
  /** Throws `IllegalStateError` naming `operation` unless the context is still initialized. */
  assertCanAddOperation(operation: string): void;
  /** Adds an output operation to the graph; only outputs cause computation. */
  registerOutput(output: OutputOperation): void;
  /** Resolves when the context stops; rejects with the error that stopped it, if one did. */
  awaitTermination(): Promise<void>;
  /** Where inputs log unless given their own logger. */
  readonly logger?: Logger;
  /** Delivers an input's event (planned ranges, commits) to the context's listeners, metrics and UI. */
  postInputEvent?(event: InputEvent): void;
}

