import { Subject, concatMap } from 'rxjs';
import type { BatchContext, InputSource, OutputOperation } from '../context/types';
import type { OffsetRange } from '../offsets/OffsetRange';
import type { Clock } from '../util/Clock';
import type { Logger } from '../util/Logger';
import { toError } from '../util/toError';
import type { BatchInfo } from './events';
import type { ListenerBus } from './ListenerBus';

/** What the scheduler needs from its context. */
export interface JobSchedulerDeps {
  readonly clock: Clock;
  readonly inputs: readonly InputSource[];
  readonly outputs: readonly OutputOperation[];
  readonly bus: ListenerBus;
  readonly logger: Logger;
  /** A batch failed; the context stops with this error. Called after its BatchCompleted event. */
  onFailure(error: Error): void;
  /**
   * Why the graph cannot compute a batch a second time, if it cannot (stateful operators update
   * their state in place as they compute): then no input's record-error policy may retry.
   */
  notRecomputable?(): string | undefined;
}

/** A generated batch waiting to run. */
interface Job {
  readonly timeMs: number;
  readonly submissionTimeMs: number;
  /** The ranges planned at submission. */
  readonly offsetRanges: readonly OffsetRange[];
  /** The ranges the batch delivered, known once it ran (before its inputs forget it). */
  deliveredRanges?: readonly OffsetRange[];
  /** Runs of the batch so far (more than one when an input's record-error policy retried it). */
  attempts: number;
}

const EMPTY_RANGES: readonly OffsetRange[] = Object.freeze([]);

/**
 * Runs generated batches strictly one at a time, in time order: a queue of jobs drained by
 * `concatMap`, so a batch starts only when the previous one has committed. For each batch it
 * runs the outputs in registration order inside the inputs' `runBatch` (which commit as their
 * delivery semantics say), clears the batch's metadata and reports it. A failed batch stops the
 * queue: later batches are abandoned, never run, and the context is told to stop.
 */
export class JobScheduler {
  private readonly queue = new Subject<Job>();
  private readonly finished: Promise<void>;
  private isAbandoning = false;
  private isClosed = false;
  private readonly abandoned: number[] = [];

  constructor(private readonly deps: JobSchedulerDeps) {
    this.finished = new Promise((resolve) => {
      this.queue.pipe(concatMap((job) => this.run(job))).subscribe({ complete: () => resolve() });
    });
  }

  /** Queues batch `timeMs`, whose inputs have generated it. */
  submit(timeMs: number): void {
    if (this.isClosed) {
      this.abandoned.push(timeMs);
      return;
    }
    const job: Job = { timeMs, submissionTimeMs: this.deps.clock.nowMs(), offsetRanges: this.rangesOf(timeMs), attempts: 0 };
    this.deps.bus.post({
      type: 'BatchSubmitted',
      batchTimeMs: timeMs,
      submissionTimeMs: job.submissionTimeMs,
      offsetRanges: job.offsetRanges,
    });
    this.queue.next(job);
  }

  /** Batches still queued will not run. The batch running now finishes. */
  abandonQueued(): void {
    this.isAbandoning = true;
  }

  /**
   * Accepts no more batches and resolves once the queue is empty, with the times of the batches
   * that were abandoned. Graceful: queued batches run, but after `timeoutMs` (on the clock) the
   * rest are abandoned. Not graceful: only the running batch finishes.
   */
  async stop(graceful: boolean, timeoutMs: number): Promise<readonly number[]> {
    if (!graceful) this.isAbandoning = true;
    this.isClosed = true;
    this.queue.complete();
    if (graceful && !this.isAbandoning) {
      const { clock } = this.deps;
      const timer = new AbortController();
      const hasTimedOut = await Promise.race([
        this.finished.then(() => false),
        clock.waitUntil(clock.nowMs() + timeoutMs, timer.signal).then(
          () => true,
          () => false,
        ),
      ]);
      timer.abort();
      if (hasTimedOut) {
        this.isAbandoning = true;
        this.deps.logger.warn(`graceful stop timed out after ${timeoutMs} ms; abandoning queued batches uncommitted`);
      }
    }
    await this.finished;
    return this.abandoned;
  }

  private rangesOf(timeMs: number): readonly OffsetRange[] {
    const { inputs } = this.deps;
    if (inputs.length === 0) return EMPTY_RANGES;
    if (inputs.length === 1) return inputs[0]!.offsetRanges(timeMs);
    return inputs.flatMap((input) => input.offsetRanges(timeMs));
  }

  private async run(job: Job): Promise<void> {
    if (this.isAbandoning) {
      this.abandoned.push(job.timeMs);
      return;
    }
    const { clock, bus, inputs, outputs } = this.deps;
    const processingStartTimeMs = clock.nowMs();
    bus.post({
      type: 'BatchStarted',
      batchTimeMs: job.timeMs,
      submissionTimeMs: job.submissionTimeMs,
      processingStartTimeMs,
      schedulingDelayMs: processingStartTimeMs - job.submissionTimeMs,
      offsetRanges: job.offsetRanges,
    });
    let failure: Error | undefined;
    let processingEndTimeMs: number | undefined;
    let numRecords = 0;
    let numDeadLetters = 0;
    try {
      try {
        await this.executeWithRetries(job);
      } finally {
        job.deliveredRanges = this.rangesOf(job.timeMs);
      }
      processingEndTimeMs = clock.nowMs();
      numRecords = this.countRecords(job.timeMs);
      numDeadLetters = this.countDeadLetters(job.timeMs);
      for (const output of outputs) output.stream.clearMetadata(job.timeMs);
      for (const input of inputs) input.clear(job.timeMs);
    } catch (error) {
      processingEndTimeMs ??= clock.nowMs();
      failure = toError(error);
      numRecords = this.countRecordsOfFailedBatch(job.timeMs);
      // Set before this job ends so that no queued batch starts after a failure.
      this.isAbandoning = true;
    }
    const info: BatchInfo = {
      batchTimeMs: job.timeMs,
      // What the batch delivered: without partitions the group took away before it started.
      offsetRanges: this.rangesOfFinishedBatch(job),
      numRecords,
      numDeadLetters,
      numAttempts: Math.max(job.attempts, 1),
      submissionTimeMs: job.submissionTimeMs,
      processingStartTimeMs,
      processingEndTimeMs,
      schedulingDelayMs: processingStartTimeMs - job.submissionTimeMs,
      processingDelayMs: processingEndTimeMs - processingStartTimeMs,
      totalDelayMs: processingEndTimeMs - job.submissionTimeMs,
      failure,
    };
    bus.post({ type: 'BatchCompleted', info });
    for (const input of inputs) {
      if (input.onBatchCompleted === undefined) continue;
      try {
        input.onBatchCompleted(info);
      } catch (error) {
        this.deps.logger.error(`input ${input.name} onBatchCompleted threw`, { error, batchTimeMs: job.timeMs });
      }
    }
    if (failure !== undefined) this.deps.onFailure(failure);
  }

  /**
   * Runs the batch until it succeeds or an input lets its failure stand: after a failed run, each
   * input is asked (`onBatchError`); one that retries (its dead-letter policy counted an attempt
   * against a record, or set one aside) has the batch forgotten throughout the graph, so the next
   * run recomputes it from the inputs, which read the same ranges. Each retry moves a record
   * closer to being set aside and the inputs bound how many they set aside, so this ends.
   * Counts the runs in `job.attempts`; rejects with the error the inputs decided on.
   */
  private async executeWithRetries(job: Job): Promise<void> {
    const { inputs, outputs, logger } = this.deps;
    for (;;) {
      job.attempts += 1;
      try {
        await this.execute(job);
        return;
      } catch (error) {
        let failure = toError(error);
        const notRecomputable = inputs.some((input) => input.onBatchError !== undefined)
          ? this.deps.notRecomputable?.()
          : undefined;
        let isRetried = false;
        for (const input of inputs) {
          if (input.onBatchError === undefined) continue;
          const decision = input.onBatchError(job.timeMs, failure, notRecomputable);
          if (decision.retry) {
            isRetried = true;
            break;
          }
          failure = decision.error;
        }
        if (!isRetried) throw failure;
        logger.info(`batch ${job.timeMs} failed on a record (run ${job.attempts}); recomputing it and running it again`);
        for (const output of outputs) output.stream.forgetBatch(job.timeMs);
      }
    }
  }

  /**
   * Outputs run inside every input's `runBatch`, nested in registration order, so each input
   * commits its offsets as its delivery semantics say. Outputs see the innermost transaction an
   * input provided (an input without one passes its outer input's through).
   */
  private execute(job: Job): Promise<void> {
    const { inputs, outputs } = this.deps;
    const { timeMs } = job;
    let body = async (transaction: unknown): Promise<void> => {
      // Asked once every input runs the batch: the ranges it delivers and commits.
      const batch: BatchContext = { time: timeMs, offsetRanges: this.rangesOf(timeMs), transaction };
      for (const output of outputs) await output.run(batch);
    };
    for (let index = inputs.length - 1; index >= 0; index -= 1) {
      const input = inputs[index]!;
      const inner = body;
      body = (outerTransaction) => input.runBatch(timeMs, (transaction) => inner(transaction ?? outerTransaction));
    }
    return body(undefined);
  }

  /** The ranges a finished batch delivered, read before its inputs clear it. */
  private rangesOfFinishedBatch(job: Job): readonly OffsetRange[] {
    return job.deliveredRanges ?? job.offsetRanges;
  }

  /** The failed batch's record count for its BatchInfo; an input that cannot tell counts 0. */
  private countRecordsOfFailedBatch(timeMs: number): number {
    try {
      return this.countRecords(timeMs);
    } catch {
      return 0;
    }
  }

  private countDeadLetters(timeMs: number): number {
    let count = 0;
    for (const input of this.deps.inputs) count += input.deadLetterCount?.(timeMs) ?? 0;
    return count;
  }

  private countRecords(timeMs: number): number {
    let count = 0;
    for (const input of this.deps.inputs) {
      if (input.recordCount !== undefined) {
        count += input.recordCount(timeMs);
      } else {
        for (const range of input.offsetRanges(timeMs)) count += range.count;
      }
    }
    return count;
  }
}
