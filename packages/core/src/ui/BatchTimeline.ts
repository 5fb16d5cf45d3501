import type { OffsetRangeJSON } from '../offsets/OffsetRange';
import { PartitionLag, type PartitionLagEntry } from '../metrics/PartitionLag';
import type {
  BatchCompletedEvent,
  BatchStartedEvent,
  BatchSubmittedEvent,
  InputPlannedEvent,
  OffsetCommitCompletedEvent,
  StreamingErrorEvent,
  StreamingListener,
  StreamingStartedEvent,
  StreamingStoppedEvent,
} from '../scheduler/events';

/** A batch generated and not finished yet. */
export interface ActiveBatch {
  readonly batchTimeMs: number;
  readonly status: 'queued' | 'processing';
  readonly submissionTimeMs: number;
  readonly processingStartTimeMs: number | undefined;
  readonly offsetRanges: readonly OffsetRangeJSON[];
}

/** A finished batch, as the UI's table and charts show it. */
export interface CompletedBatch {
  readonly batchTimeMs: number;
  readonly numRecords: number;
  /** Records per second of batch interval, as Spark's input rate. */
  readonly inputRate: number;
  readonly schedulingDelayMs: number;
  readonly processingDelayMs: number;
  readonly totalDelayMs: number;
  /** The failure's message; undefined for a batch that committed. */
  readonly failure: string | undefined;
  readonly offsetRanges: readonly OffsetRangeJSON[];
}

/** The last commit attempt of one store for one input. */
export interface LastCommit {
  readonly store: string;
  readonly input: string;
  readonly group: string;
  readonly timeMs: number;
  readonly durationMs: number;
  readonly outcome: OffsetCommitCompletedEvent['outcome'];
  readonly error: string | undefined;
  readonly offsetRanges: readonly OffsetRangeJSON[];
}

/** Everything the UI page shows, as JSON. */
export interface TimelineSnapshot {
  readonly app: string | undefined;
  readonly status: 'initialized' | 'active' | 'stopped';
  readonly batchIntervalMs: number | undefined;
  readonly startTimeMs: number | undefined;
  readonly completedBatches: number;
  readonly failedBatches: number;
  readonly totalRecords: number;
  readonly error: string | undefined;
  readonly active: readonly ActiveBatch[];
  /** The latest finished batches, oldest first (at most `retainedBatches`). */
  readonly completed: readonly CompletedBatch[];
  readonly partitions: readonly PartitionLagEntry[];
  readonly commits: readonly LastCommit[];
}

/**
 * A streaming listener that keeps a context's recent history for the UI (Spark's
 * `StreamingJobProgressListener`): active batches, the latest completed ones, lag per partition
 * and each store's last commit. `onChange` is called after every event that changed it.
 *
 * @example
 * const timeline = new BatchTimeline();
 * ssc.addStreamingListener(timeline);
 * // later: timeline.snapshot().completed.at(-1)?.totalDelayMs
 */
export class BatchTimeline implements StreamingListener {
  private app: string | undefined;
  private status: TimelineSnapshot['status'] = 'initialized';
  private batchIntervalMs: number | undefined;
  private startTimeMs: number | undefined;
  private completedBatches = 0;
  private failedBatches = 0;
  private totalRecords = 0;
  private error: string | undefined;
  private readonly active = new Map<number, ActiveBatch>();
  private readonly completed: CompletedBatch[] = [];
  private readonly lag = new PartitionLag();
  private readonly commits = new Map<string, LastCommit>();
  private readonly changeListeners = new Set<() => void>();

  /** `retainedBatches`: how many finished batches to keep (Spark's `spark.streaming.ui.retainedBatches`). */
  constructor(private readonly retainedBatches = 1000) {}

  /** Calls `listener` after every change; returns the function that unsubscribes it. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onStreamingStarted(event: StreamingStartedEvent): void {
    this.app = event.appName;
    this.status = 'active';
    this.batchIntervalMs = event.batchIntervalMs;
    this.startTimeMs = event.timeMs;
    this.changed();
  }

  onBatchSubmitted(event: BatchSubmittedEvent): void {
    this.active.set(event.batchTimeMs, {
      batchTimeMs: event.batchTimeMs,
      status: 'queued',
      submissionTimeMs: event.submissionTimeMs,
      processingStartTimeMs: undefined,
      offsetRanges: event.offsetRanges.map((r) => r.toJSON()),
    });
    this.changed();
  }

  onBatchStarted(event: BatchStartedEvent): void {
    const batch = this.active.get(event.batchTimeMs);
    if (batch !== undefined) this.active.set(event.batchTimeMs, { ...batch, status: 'processing', processingStartTimeMs: event.processingStartTimeMs });
    this.changed();
  }

  onBatchCompleted({ info }: BatchCompletedEvent): void {
    this.active.delete(info.batchTimeMs);
    if (info.failure === undefined) {
      this.completedBatches += 1;
      this.totalRecords += info.numRecords;
    } else {
      this.failedBatches += 1;
    }
    this.completed.push({
      batchTimeMs: info.batchTimeMs,
      numRecords: info.numRecords,
      inputRate: this.batchIntervalMs ? (info.numRecords * 1000) / this.batchIntervalMs : 0,
      schedulingDelayMs: info.schedulingDelayMs,
      processingDelayMs: info.processingDelayMs,
      totalDelayMs: info.totalDelayMs,
      failure: info.failure?.message,
      offsetRanges: info.offsetRanges.map((r) => r.toJSON()),
    });
    if (this.completed.length > this.retainedBatches) this.completed.splice(0, this.completed.length - this.retainedBatches);
    this.changed();
  }

  onInputPlanned(event: InputPlannedEvent): void {
    this.lag.planned(event);
    this.changed();
  }

  onOffsetCommitCompleted(event: OffsetCommitCompletedEvent): void {
    this.lag.committed(event);
    this.commits.set(`${event.store}\u0000${event.input}`, {
      store: event.store,
      input: event.input,
      group: event.group,
      timeMs: event.timeMs,
      durationMs: event.durationMs,
      outcome: event.outcome,
      error: event.error?.message,
      offsetRanges: event.offsetRanges.map((r) => r.toJSON()),
    });
    this.changed();
  }

  onError(event: StreamingErrorEvent): void {
    this.error ??= event.error.message;
    this.changed();
  }

  onStreamingStopped(event: StreamingStoppedEvent): void {
    this.status = 'stopped';
    this.active.clear();
    if (event.error !== undefined) this.error ??= event.error.message;
    this.changed();
  }

  /** The current state; `maxBatches` bounds the finished batches included (latest kept). */
  snapshot(maxBatches = this.retainedBatches): TimelineSnapshot {
    return {
      app: this.app,
      status: this.status,
      batchIntervalMs: this.batchIntervalMs,
      startTimeMs: this.startTimeMs,
      completedBatches: this.completedBatches,
      failedBatches: this.failedBatches,
      totalRecords: this.totalRecords,
      error: this.error,
      active: [...this.active.values()].sort((a, b) => a.batchTimeMs - b.batchTimeMs),
      completed: this.completed.slice(-maxBatches),
      partitions: this.lag.list(),
      commits: [...this.commits.values()].sort((a, b) => (a.store === b.store ? (a.input < b.input ? -1 : 1) : a.store < b.store ? -1 : 1)),
    };
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }
}
