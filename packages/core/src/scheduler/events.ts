import type { OffsetRange } from '../offsets/OffsetRange';

/**
 * What happened to one batch, as Spark's `BatchInfo`: its ranges, how many records it read and
 * the three delays. Times come from the context's clock.
 */
export interface BatchInfo {
  /** The batch time: `zeroTimeMs + k * batchIntervalMs`. */
  readonly batchTimeMs: number;
  /** Every input's offset ranges for this batch, in input registration order. */
  readonly offsetRanges: readonly OffsetRange[];
  /** Records the batch read: the inputs' `recordCount`, else the sum of their ranges' counts. */
  readonly numRecords: number;
  /**
   * Records the batch set aside under a dead-letter policy (`recordErrors`): read, but not handed
   * to the outputs, and kept with the batch's offsets. 0 for most batches.
   */
  readonly numDeadLetters: number;
  /** Runs of the batch: 1, plus one per retry the dead-letter policy made. */
  readonly numAttempts: number;
  /** When the batch was generated and queued (its inputs had fixed what it reads). */
  readonly submissionTimeMs: number;
  /** When its first output started. */
  readonly processingStartTimeMs: number;
  /** When its last output and its commit finished (or failed). */
  readonly processingEndTimeMs: number;
  /** Time spent queued behind earlier batches: processingStart - submission. */
  readonly schedulingDelayMs: number;
  /** Time spent running outputs and committing: processingEnd - processingStart. */
  readonly processingDelayMs: number;
  /** schedulingDelay + processingDelay. */
  readonly totalDelayMs: number;
  /** Why the batch failed (an output or its commit threw); undefined for a batch that completed. */
  readonly failure: Error | undefined;
}

/** The context started: inputs are started and the first tick is scheduled. */
export interface StreamingStartedEvent {
  readonly type: 'StreamingStarted';
  readonly appName: string;
  readonly timeMs: number;
  readonly batchIntervalMs: number;
  /** The first batch runs at `zeroTimeMs + batchIntervalMs`. */
  readonly zeroTimeMs: number;
}

/** A tick generated batch `batchTimeMs` and queued it. */
export interface BatchSubmittedEvent {
  readonly type: 'BatchSubmitted';
  readonly batchTimeMs: number;
  readonly submissionTimeMs: number;
  readonly offsetRanges: readonly OffsetRange[];
}

/** Batch `batchTimeMs` left the queue and its outputs started. */
export interface BatchStartedEvent {
  readonly type: 'BatchStarted';
  readonly batchTimeMs: number;
  readonly submissionTimeMs: number;
  readonly processingStartTimeMs: number;
  readonly schedulingDelayMs: number;
  readonly offsetRanges: readonly OffsetRange[];
}

/** Batch `info.batchTimeMs` finished: committed, or failed (`info.failure`) and stopping the context. */
export interface BatchCompletedEvent {
  readonly type: 'BatchCompleted';
  readonly info: BatchInfo;
}

/** The error that is stopping the context (a failed batch, a failed tick, a failed input). */
export interface StreamingErrorEvent {
  readonly type: 'StreamingError';
  readonly timeMs: number;
  readonly error: Error;
}

/** The context stopped: no batch runs any more and every input is stopped. */
export interface StreamingStoppedEvent {
  readonly type: 'StreamingStopped';
  readonly timeMs: number;
  /** True when queued batches were allowed to finish. */
  readonly graceful: boolean;
  /** Batches that were generated but never run (their offsets were not committed). */
  readonly abandonedBatchTimesMs: readonly number[];
  /** The error that stopped the context, if one did. */
  readonly error: Error | undefined;
}

/** One partition of an input's plan for a batch: its range and where the log ended when planned. */
export interface PlannedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly fromOffset: number;
  readonly untilOffset: number;
  /** The log end (high watermark) the plan saw: `logEndOffset - untilOffset` records wait for later batches. */
  readonly logEndOffset: number;
}

/**
 * A Kafka input fixed what batch `batchTimeMs` reads; posted before the batch's BatchSubmitted.
 * Carries the log end of every partition, which is what consumer lag is measured against.
 */
export interface InputPlannedEvent {
  readonly type: 'InputPlanned';
  /** The input's name, e.g. `kafka[events]`. */
  readonly input: string;
  readonly batchTimeMs: number;
  readonly partitions: readonly PlannedPartition[];
}

/**
 * An input's offset store answered one commit attempt (a retried commit posts one event per
 * attempt). `durationMs` is the time of the offset write; in a store transaction, the time from
 * the end of the outputs to the end of the transaction.
 */
export interface OffsetCommitCompletedEvent {
  readonly type: 'OffsetCommitCompleted';
  readonly input: string;
  /** The store's `name` ("redis", "postgres", …). */
  readonly store: string;
  readonly group: string;
  /** When the attempt finished, on the wall clock. */
  readonly timeMs: number;
  readonly durationMs: number;
  /** The ranges whose `untilOffset` the attempt wrote. */
  readonly offsetRanges: readonly OffsetRange[];
  /** `committed`; `conflict` when the store held another offset (StaleOffsetError); `failed` otherwise. */
  readonly outcome: 'committed' | 'conflict' | 'failed';
  readonly error: Error | undefined;
}

/** What an input posts to its context's listeners (see `StreamingContextLike.postInputEvent`). */
export type InputEvent = InputPlannedEvent | OffsetCommitCompletedEvent;

/**
 * Everything a StreamingContext reports, as a closed union on `type` (Spark's
 * StreamingListener events). Per batch the order is InputPlanned (Kafka inputs) → Submitted →
 * Started → OffsetCommitCompleted → Completed (the commit comes first with at-most-once).
 */
export type StreamingEvent =
  | StreamingStartedEvent
  | BatchSubmittedEvent
  | BatchStartedEvent
  | BatchCompletedEvent
  | StreamingErrorEvent
  | StreamingStoppedEvent
  | InputPlannedEvent
  | OffsetCommitCompletedEvent;

/**
 * Receives a context's events, with Spark's method names; every method is optional. Methods are
 * called synchronously on the scheduler's path, so keep them short; a method that throws (or
 * returns a rejected promise) is logged and never affects a batch.
 *
 * @example
 * ssc.addStreamingListener({
 *   onBatchCompleted: ({ info }) => console.log(info.batchTimeMs, info.numRecords, info.totalDelayMs),
 * });
 */
export interface StreamingListener {
  onStreamingStarted?(event: StreamingStartedEvent): void | Promise<void>;
  onBatchSubmitted?(event: BatchSubmittedEvent): void | Promise<void>;
  onBatchStarted?(event: BatchStartedEvent): void | Promise<void>;
  onBatchCompleted?(event: BatchCompletedEvent): void | Promise<void>;
  onError?(event: StreamingErrorEvent): void | Promise<void>;
  onStreamingStopped?(event: StreamingStoppedEvent): void | Promise<void>;
  /** A Kafka input planned a batch; the event has each partition's log end. */
  onInputPlanned?(event: InputPlannedEvent): void | Promise<void>;
  /** An input's offset store answered a commit attempt. */
  onOffsetCommitCompleted?(event: OffsetCommitCompletedEvent): void | Promise<void>;
}
