import type { DStream } from '@dstream/core';
import { distinct, filter, map } from 'rxjs';
import type { PageEvent, PageView } from './pageEvents';

/** The two streams the job outputs. */
export interface PageViewStreams {
  /** Views per page in each batch. */
  readonly viewsPerPage: DStream<[string, number]>;
  /** Views per page in the last `windowMs`, every batch; pages without views in the window left out. */
  readonly viewsPerPageInWindow: DStream<[string, number]>;
}

/**
 * Page views per page, per batch and over a sliding window. RxJS operators do the per-batch
 * clean-up through `pipe` (they see one batch at a time: `distinct` removes a retried event
 * within its batch); the window across batches is dstream's `reduceByKeyAndWindow`, kept
 * incrementally with its inverse.
 *
 * @example
 * const events = ssc.observableStream(pageEvents$(2000, 1000));
 * const { viewsPerPageInWindow } = pageViewsJob(events, 3000);
 */
export function pageViewsJob(events: DStream<PageEvent>, windowMs: number): PageViewStreams {
  const views = events.pipe(
    filter((event): event is PageView => event.type === 'view'),
    distinct((view) => view.id),
    map((view) => [view.page, 1] as const),
  );
  return {
    viewsPerPage: views.reduceByKey((a, b) => a + b),
    viewsPerPageInWindow: views.reduceByKeyAndWindow((a, b) => a + b, windowMs, undefined, {
      invFunc: (a, b) => a - b,
      filterFunc: ([, count]) => count > 0,
      name: 'views-per-page-in-window',
    }),
  };
}
