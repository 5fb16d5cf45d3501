/**
 * Polls `predicate` until it returns true; rejects after `timeoutMs` with `what` in the message.
 * For real services only: unit tests use a ManualClock instead of waiting.
 *
 * @example
 * await waitFor(() => batches.length >= 3, 60_000, 'three batches');
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what = 'condition',
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Resolves after `ms` milliseconds (for real services only; unit tests use a ManualClock). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
