import { ConfigError } from '../errors';
import type { Clock } from '../util/Clock';

interface Waiter {
  readonly timeMs: number;
  readonly resolve: () => void;
  readonly detach: () => void;
}

/**
 * How many macrotask turns `advance` yields after waking a waiter. One turn drains every promise
 * chain; the extra turns cover work that itself yields with `setImmediate` (chunked loops).
 */
const SETTLE_TURNS = 8;

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A virtual clock for tests, like Spark's ManualClock: time moves only when the test moves it.
 * `advance` wakes the waiters whose time has come, one at a time in time order (ties in the order
 * they started waiting), and lets the work each one triggers run before waking the next, so
 * `await clock.advance(1000)` returns once the batch that tick produced has run.
 *
 * @example
 * const clock = new ManualClock();
 * const ssc = new StreamingContext({ appName: 'test', batchIntervalMs: 1000, clock });
 * // … build the graph, await ssc.start() …
 * await clock.advance(1000); // batch 1000 is generated and run
 */
export class ManualClock implements Clock {
  private currentMs: number;
  private readonly waiters: Waiter[] = [];
  /** Serialises `advance`/`setTime` calls so two moves never interleave their wake-ups. */
  private moving: Promise<void> = Promise.resolve();

  constructor(startTimeMs = 0) {
    if (!Number.isFinite(startTimeMs)) {
      throw new ConfigError('ManualClock startTimeMs', startTimeMs, 'must be a finite number', 'Pass a time in ms, e.g. 0.');
    }
    this.currentMs = startTimeMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  /** The earliest time someone waits for, or undefined when nobody waits. */
  get nextWakeUpMs(): number | undefined {
    return this.waiters[0]?.timeMs;
  }

  /** How many `waitUntil` calls are pending. */
  get waiterCount(): number {
    return this.waiters.length;
  }

  waitUntil(timeMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (timeMs <= this.currentMs) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        timeMs,
        resolve,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // Insert after every waiter with time <= timeMs: time order, ties first come first woken.
      let index = this.waiters.length;
      while (index > 0 && this.waiters[index - 1]!.timeMs > timeMs) index -= 1;
      this.waiters.splice(index, 0, waiter);
    });
  }

  /** Moves time forward by `ms`, waking due waiters in time order and letting their work run. */
  advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) {
      return Promise.reject(
        new ConfigError('ManualClock.advance ms', ms, 'must be a finite number >= 0', 'Time only moves forward.'),
      );
    }
    return this.enqueue(() => this.currentMs + ms);
  }

  /** Moves time forward to `timeMs` (never backwards), waking due waiters like `advance`. */
  setTime(timeMs: number): Promise<void> {
    if (!Number.isFinite(timeMs)) {
      return Promise.reject(new ConfigError('ManualClock.setTime timeMs', timeMs, 'must be a finite number', 'Pass a time in ms.'));
    }
    return this.enqueue(() => {
      if (timeMs < this.currentMs) {
        throw new ConfigError(
          'ManualClock.setTime timeMs',
          timeMs,
          `must not be before the current time ${this.currentMs}`,
          'The scheduler assumes time never goes backwards; create a new ManualClock instead.',
        );
      }
      return timeMs;
    });
  }

  private enqueue(target: () => number): Promise<void> {
    const move = this.moving.then(() => this.moveTo(target()));
    this.moving = move.catch(() => undefined);
    return move;
  }

  private async moveTo(targetMs: number): Promise<void> {
    // Work started just before this call (a start(), an awaited tick) registers its waiters first.
    await settle();
    for (;;) {
      const next = this.waiters[0];
      if (next === undefined || next.timeMs > targetMs) break;
      this.waiters.shift();
      this.currentMs = next.timeMs;
      next.detach();
      next.resolve();
      await settle();
    }
    this.currentMs = targetMs;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let turn = 0; turn < SETTLE_TURNS; turn += 1) await nextTurn();
}
