import { type Observable, concatMap, interval, map, takeWhile } from 'rxjs';

/** A page view: who saw which page. */
export interface PageView {
  readonly type: 'view';
  readonly id: string;
  readonly user: string;
  readonly page: string;
}

/** A keep-alive the client sends between views; carries nothing to count. */
export interface Heartbeat {
  readonly type: 'heartbeat';
  readonly user: string;
}

/** What the site's clients send. */
export type PageEvent = PageView | Heartbeat;

export const PAGES = ['home', 'search', 'product', 'cart', 'checkout'] as const;

/** How often the source emits a burst of events: 100 bursts a second. */
const BURST_EVERY_MS = 10;

/**
 * Event `index` of the deterministic sequence: every ninth is a heartbeat, the rest are views of
 * pages chosen by a fixed rule. A view whose index ends in 3 is sent twice in a row, as a client
 * retrying a request it thought lost would: the job removes the copy with `distinct`.
 */
export function pageEventsAt(index: number): PageEvent[] {
  const user = `user-${index % 7}`;
  if (index % 9 === 8) return [{ type: 'heartbeat', user }];
  const view: PageView = { type: 'view', id: `view-${index}`, user, page: PAGES[(index * 3 + Math.floor(index / 4)) % PAGES.length] };
  return index % 10 === 3 ? [view, view] : [view];
}

/**
 * The first `count` events of the sequence, emitted on the real clock at about `ratePerSecond`
 * (in bursts every 10 ms), then completion. Cold: each subscriber gets its own sequence.
 */
export function pageEvents$(count: number, ratePerSecond: number): Observable<PageEvent> {
  const perBurst = Math.max(1, Math.round((ratePerSecond * BURST_EVERY_MS) / 1000));
  return interval(BURST_EVERY_MS).pipe(
    map((burst) => burst * perBurst),
    takeWhile((first) => first < count),
    concatMap((first) =>
      Array.from({ length: Math.min(perBurst, count - first) }, (_, offset) => pageEventsAt(first + offset)).flat(),
    ),
  );
}

/** The views per page among the first `count` events, each view counted once. */
export function expectedViews(count: number): Map<string, number> {
  const views = new Map<string, number>();
  for (let index = 0; index < count; index++) {
    const [event] = pageEventsAt(index);
    if (event.type === 'view') views.set(event.page, (views.get(event.page) ?? 0) + 1);
  }
  return views;
}
