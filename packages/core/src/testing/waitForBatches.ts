import { filter, firstValueFrom, map, take, toArray } from 'rxjs';
import type { StreamingContext } from '../context/StreamingContext';
import { ConfigError, IllegalStateError } from '../errors';
import type { BatchCompletedEvent, BatchInfo, StreamingEvent } from '../scheduler/events';

/**
 * Resolves with the next `count` batches' BatchInfo as they complete (failed ones included, with
 * `failure` set). Rejects if the context stops first. Subscribe before moving the clock.
 *
 * @example
 * const done = waitForBatches(ssc, 2);
 * await clock.advance(2000);
 * const [first, second] = await done;
 */
export async function waitForBatches(context: StreamingContext, count: number): Promise<BatchInfo[]> {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new ConfigError('waitForBatches count', count, 'must be a positive integer', 'Pass how many batches to wait for.');
  }
  const infos = await firstValueFrom(
    context.events$.pipe(
      filter((event: StreamingEvent): event is BatchCompletedEvent => event.type === 'BatchCompleted'),
      map((event) => event.info),
      take(count),
      toArray(),
    ),
    { defaultValue: [] as BatchInfo[] },
  );
  if (infos.length < count) {
    throw new IllegalStateError(`the StreamingContext stopped after ${infos.length} of the ${count} batches awaited`);
  }
  return infos;
}
