import type { InputSource } from '../context/types';
import type { Clock } from '../util/Clock';
import { toError } from '../util/toError';

/** What the generator needs from its context. */
export interface JobGeneratorDeps {
  readonly clock: Clock;
  readonly batchIntervalMs: number;
  readonly inputs: readonly InputSource[];
  /** Queues the batch at `timeMs` once every input has generated it. */
  submit(timeMs: number): void;
  /** A tick failed (an input's `generate` threw); the context stops with this error. */
  onError(error: Error): void;
}

/**
 * Ticks on the batch interval, like Spark's JobGenerator over a RecurringTimer: at each
 * `zeroTime + k * interval` it asks every input, in registration order, to fix what the batch
 * reads, then submits the batch. It never waits for batches to run, so a slow batch delays the
 * next batch's start (scheduling delay) but not its generation; ticks missed while an input was
 * slow are still generated, each at its own time, because the clock's wait for a past time
 * returns at once.
 */
export class JobGenerator {
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly deps: JobGeneratorDeps) {}

  /** Starts ticking; the first batch is `firstBatchTimeMs`. */
  start(firstBatchTimeMs: number): void {
    this.loop = this.run(firstBatchTimeMs);
  }

  /** Stops ticking. Resolves once a tick under way has submitted its batch (or failed). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(firstBatchTimeMs: number): Promise<void> {
    const { clock, batchIntervalMs, inputs } = this.deps;
    const { signal } = this.abort;
    for (let timeMs = firstBatchTimeMs; !signal.aborted; timeMs += batchIntervalMs) {
      try {
        await clock.waitUntil(timeMs, signal);
      } catch (error) {
        if (signal.aborted) return;
        this.deps.onError(toError(error));
        return;
      }
      try {
        for (const input of inputs) await input.generate(timeMs);
      } catch (error) {
        this.deps.onError(toError(error));
        return;
      }
      // Submitted even if stop() came during generate: the batch is fixed, and a graceful stop
      // runs every generated batch.
      this.deps.submit(timeMs);
    }
  }
}
