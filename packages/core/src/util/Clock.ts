import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A source of time for everything that waits: the batch generator, graceful-stop timeouts, retry
 * backoff. Injected so tests can run on a `ManualClock` in virtual time.
 *
 * @example
 * const clock: Clock = new SystemClock();
 * await clock.waitUntil(clock.nowMs() + 100);
 */
export interface Clock {
  /** Milliseconds since the epoch (or since the clock's own origin, for virtual clocks). */
  nowMs(): number;
  /**
   * Resolves once `nowMs() >= timeMs`; at once if that time has passed. Rejects with the signal's
   * reason if `signal` aborts first, and releases its timer.
   */
  waitUntil(timeMs: number, signal?: AbortSignal): Promise<void>;
}

/** Node's timers cap a single delay at 2^31-1 ms; longer waits are taken in steps. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * Wall-clock time (`Date.now()`) and Node timers. Timers keep the process alive, which is what a
 * running streaming job wants; every wait is cleared on abort so a stopped job lets Node exit.
 *
 * @example
 * const ssc = new StreamingContext({ appName: 'app', batchIntervalMs: 1000, clock: new SystemClock() });
 */
export class SystemClock implements Clock {
  nowMs(): number {
    return Date.now();
  }

  async waitUntil(timeMs: number, signal?: AbortSignal): Promise<void> {
    // Timers run on a monotonic clock and Date.now() can lag it by a millisecond, so re-check
    // until wall-clock time has really reached timeMs: batch times must never be early.
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const remainingMs = timeMs - Date.now();
      if (remainingMs <= 0) return;
      try {
        await sleep(Math.min(remainingMs, MAX_TIMER_DELAY_MS), undefined, { signal });
      } catch (error) {
        throw signal?.aborted ? signal.reason : error;
      }
    }
  }
}
