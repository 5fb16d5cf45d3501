import { SystemClock } from './Clock';

describe('SystemClock', () => {
  it('reads wall-clock time', () => {
    const before = Date.now();
    const now = new SystemClock().nowMs();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('resolves a wait for a time that has passed without a timer', async () => {
    await expect(new SystemClock().waitUntil(Date.now() - 1)).resolves.toBeUndefined();
  });

  it('rejects a long wait with the signal reason as soon as it is aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('context stopped');
    const waited = new SystemClock().waitUntil(Date.now() + 3_600_000, controller.signal);
    controller.abort(reason);
    await expect(waited).rejects.toBe(reason);
  });

  it('rejects at once when the signal was already aborted', async () => {
    const reason = new Error('already stopped');
    await expect(new SystemClock().waitUntil(Date.now() + 3_600_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });
});
