/** A signal that wakes whoever waits for it, or lets them go after a timeout on a clock. */
import type { Clock } from './Clock';

/**
 * What ends a waiter's timer once it is woken: a shared value, since a default abort reason is a
 * new `DOMException` with a stack trace, made for every wake of a fetch loop (thousands a second).
 */
const WAIT_ENDED = Symbol('ClockSignal wait ended');

/**
 * Waiters of `wait(timeoutMs)` resolve at the next `fire()`, or once `timeoutMs` have passed on
 * the clock (a `ManualClock` in tests), whichever comes first. It never rejects.
 */
export class ClockSignal {
  private readonly waiters = new Set<() => void>();

  constructor(private readonly clock: Clock) {}

  wait(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = new AbortController();
      const done = (): void => {
        this.waiters.delete(done);
        timer.abort(WAIT_ENDED);
        resolve();
      };
      this.clock.waitUntil(this.clock.nowMs() + timeoutMs, timer.signal).then(done, () => undefined);
      this.waiters.add(done);
    });
  }

  /** Wakes every waiter. */
  fire(): void {
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter();
  }
}
