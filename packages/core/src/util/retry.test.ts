import { ConfigError, DStreamError, OffsetStoreError } from '../errors';
import { ManualClock } from '../testing/ManualClock';
import { retry } from './retry';

const retriable = (message: string) => new OffsetStoreError('redis', message, { retriable: true });

describe('retry', () => {
  it('returns the result of the first attempt that succeeds', async () => {
    const clock = new ManualClock();
    const attempts: number[] = [];
    const result = retry(
      async (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw retriable('connection reset');
        return 'committed';
      },
      { clock, random: () => 0.5 },
    );
    await clock.advance(300);
    await expect(result).resolves.toBe('committed');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('waits on the injected clock with exponential backoff between attempts', async () => {
    const clock = new ManualClock();
    const attemptTimes: number[] = [];
    const result = retry(
      async () => {
        attemptTimes.push(clock.nowMs());
        throw retriable('timeout');
      },
      { clock, maxAttempts: 4, initialDelayMs: 100, multiplier: 2, random: () => 0.5 },
    ).catch((error: unknown) => error);
    await clock.advance(299);
    expect(attemptTimes).toEqual([0, 100]);
    await clock.advance(1000);
    expect(attemptTimes).toEqual([0, 100, 300, 700]);
    expect(await result).toBeInstanceOf(OffsetStoreError);
  });

  it('throws an error that is not retriable at once, without waiting', async () => {
    const clock = new ManualClock();
    const fatal = new DStreamError('stale commit');
    let attempts = 0;
    await expect(
      retry(
        async () => {
          attempts += 1;
          throw fatal;
        },
        { clock },
      ),
    ).rejects.toBe(fatal);
    expect(attempts).toBe(1);
    expect(clock.waiterCount).toBe(0);
  });

  it('treats errors without a retriable flag as not retriable', async () => {
    const clock = new ManualClock();
    const plain = new Error('TypeError in user code');
    await expect(retry(() => Promise.reject(plain), { clock })).rejects.toBe(plain);
  });

  it('gives up after maxAttempts and throws the last error', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const result = retry(
      async () => {
        attempts += 1;
        throw retriable(`failure ${attempts}`);
      },
      { clock, maxAttempts: 3, initialDelayMs: 10 },
    ).catch((error: unknown) => error);
    await clock.advance(10_000);
    expect(attempts).toBe(3);
    expect((await result as Error).message).toMatch(/failure 3$/);
  });

  it('retries without an attempt limit until the next wait would end past maxElapsedMs', async () => {
    const clock = new ManualClock();
    const attemptTimes: number[] = [];
    const result = retry(
      async () => {
        attemptTimes.push(clock.nowMs());
        throw retriable('store down');
      },
      { clock, maxAttempts: Number.POSITIVE_INFINITY, maxElapsedMs: 2000, initialDelayMs: 100, maxDelayMs: 400, random: () => 0.5 },
    ).catch((error: unknown) => error);
    await clock.advance(10_000);
    // Waits of 100, 200, 400, 400, 400 end at 1500; the next would end at 1900, the one after at 2300.
    expect(attemptTimes).toEqual([0, 100, 300, 700, 1100, 1500, 1900]);
    expect(await result).toBeInstanceOf(OffsetStoreError);
  });

  it('refuses a negative maxElapsedMs before the first attempt', async () => {
    const operation = jest.fn(async () => 'never');
    await expect(retry(operation, { clock: new ManualClock(), maxElapsedMs: -1 })).rejects.toThrow(ConfigError);
    expect(operation).not.toHaveBeenCalled();
  });

  it('caps each wait at maxDelayMs and spreads waits by the jitter fraction', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const randoms = [0, 0.999, 0.5, 0.5];
    const result = retry(() => Promise.reject(retriable('down')), {
      clock,
      maxAttempts: 5,
      initialDelayMs: 1000,
      maxDelayMs: 3000,
      jitter: 0.5,
      random: () => randoms.shift()!,
      onRetry: (_error, _attempt, delayMs) => void delays.push(delayMs),
    }).catch(() => undefined);
    await clock.advance(20_000);
    await result;
    // 1000 - 50%; 2000 + 49.9%; then the doubled 4000 and 8000 are capped to 3000.
    expect(delays).toEqual([500, 2998, 3000, 3000]);
  });

  it('stops retrying when the signal aborts and throws the operation error', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const failure = retriable('broker unavailable');
    let attempts = 0;
    const result = retry(
      async () => {
        attempts += 1;
        throw failure;
      },
      { clock, signal: controller.signal },
    ).catch((error: unknown) => error);
    await clock.advance(0);
    controller.abort();
    expect(await result).toBe(failure);
    expect(attempts).toBe(1);
    expect(clock.waiterCount).toBe(0);
  });

  it.each([
    ['maxAttempts', { maxAttempts: 0 }],
    ['initialDelayMs', { initialDelayMs: -1 }],
    ['maxDelayMs', { maxDelayMs: Number.NaN }],
    ['multiplier', { multiplier: 0.5 }],
    ['jitter', { jitter: 2 }],
  ])('rejects an invalid %s with a ConfigError before the first attempt', async (option, bad) => {
    let attempts = 0;
    const run = retry(
      async () => {
        attempts += 1;
      },
      { clock: new ManualClock(), ...bad },
    );
    await expect(run).rejects.toThrow(ConfigError);
    await expect(run).rejects.toMatchObject({ option });
    expect(attempts).toBe(0);
  });
});
