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

/**
 * Everything a StreamingContext reports, as a closed union on `type` (Spark's
 * StreamingListener events). Per batch the order is Submitted → Started → Completed.
 */
export type StreamingEvent =
  | StreamingStartedEvent
  | BatchSubmittedEvent
  | BatchStartedEvent
  | BatchCompletedEvent
  | StreamingErrorEvent
  | StreamingStoppedEvent;

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
}
