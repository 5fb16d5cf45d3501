/**
 * `promise`, or a rejection with `signal`'s reason as soon as it aborts (at once if it already
 * has): for a wait that a stop must end. The listener is removed once either settles.
 *
 * @example
 * await raceAbort(firstAssignment, stopSignal);
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
