import { ConfigError } from '../errors';
import type { Clock } from './Clock';

/** Options of `retry`. */
export interface RetryOptions {
  /** Clock the backoff waits on (the context's clock, so tests run in virtual time). */
  readonly clock: Clock;
  /** Attempts in all, the first included (default 5; `Infinity`: bounded by `maxElapsedMs` only). */
  readonly maxAttempts?: number;
  /**
   * Time budget on the clock from the first attempt: no wait starts that would end past it, so
   * the last error is thrown once retrying would outlast the budget (default: no bound).
   */
  readonly maxElapsedMs?: number;
  /** Wait before the second attempt (default 100 ms); doubles (`multiplier`) after each retry. */
  readonly initialDelayMs?: number;
  /** Upper bound of one wait (default 10000 ms). */
  readonly maxDelayMs?: number;
  /** Growth of the wait per retry (default 2). */
  readonly multiplier?: number;
  /** Each wait is randomised by ± this fraction so that many clients do not retry in step (default 0.2). */
  readonly jitter?: number;
  /** Aborting stops retrying: the last error is thrown at once. */
  readonly signal?: AbortSignal;
  /** Source of randomness in [0, 1) for the jitter (default Math.random). */
  readonly random?: () => number;
  /** Told before each wait, e.g. to log the retry. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** True for errors that say trying again may succeed (`retriable: true`, as on every DStreamError). */
function isRetriable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
}

/**
 * Runs `operation` until it succeeds, retrying only errors flagged `retriable` with exponential
 * backoff and jitter, at most `maxAttempts` times in all; then the last error is thrown. An
 * error that is not retriable is thrown at once. `operation` receives the attempt number (1-based).
 *
 * @example
 * await retry(() => store.commit(group, commits), { clock: ssc.clock, maxAttempts: 5 });
 */
export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const {
    clock,
    maxAttempts = 5,
    maxElapsedMs = Number.POSITIVE_INFINITY,
    initialDelayMs = 100,
    maxDelayMs = 10_000,
    multiplier = 2,
    jitter = 0.2,
    signal,
    random = Math.random,
    onRetry,
  } = options;
  if (!(Number.isSafeInteger(maxAttempts) || maxAttempts === Number.POSITIVE_INFINITY) || maxAttempts < 1) {
    throw new ConfigError(
      'maxAttempts',
      maxAttempts,
      'must be a positive integer or Infinity',
      'Pass the number of attempts, the first included, e.g. 5.',
    );
  }
  if (Number.isNaN(maxElapsedMs) || maxElapsedMs < 0) {
    throw new ConfigError('maxElapsedMs', maxElapsedMs, 'must be a number of milliseconds >= 0', 'Pass e.g. 60000, or Infinity for no bound.');
  }
  checkNonNegative('initialDelayMs', initialDelayMs);
  checkNonNegative('maxDelayMs', maxDelayMs);
  if (!Number.isFinite(multiplier) || multiplier < 1) {
    throw new ConfigError('multiplier', multiplier, 'must be a number >= 1', 'Pass e.g. 2 to double the wait after each retry.');
  }
  if (!Number.isFinite(jitter) || jitter < 0 || jitter > 1) {
    throw new ConfigError('jitter', jitter, 'must be a fraction between 0 and 1', 'Pass e.g. 0.2 for ±20%.');
  }
  let delayMs = initialDelayMs;
  const deadlineMs = clock.nowMs() + maxElapsedMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isRetriable(error) || attempt >= maxAttempts || signal?.aborted) throw error;
      const waitMs = Math.min(maxDelayMs, Math.round(delayMs * (1 + jitter * (2 * random() - 1))));
      if (clock.nowMs() + waitMs > deadlineMs) throw error;
      onRetry?.(error, attempt, waitMs);
      try {
        await clock.waitUntil(clock.nowMs() + waitMs, signal);
      } catch {
        // Aborted while waiting: the operation's error says more than the abort does.
        throw error;
      }
      delayMs = Math.min(maxDelayMs, delayMs * multiplier);
    }
  }
}

function checkNonNegative(option: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new ConfigError(option, value, 'must be a finite number of milliseconds >= 0', 'Pass e.g. 100.');
  }
}
