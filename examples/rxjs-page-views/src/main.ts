/**
 * RxJS both ways, no Kafka needed: an Observable of page events (views, heartbeats, retried
 * duplicates) feeds a StreamingContext; RxJS operators clean each batch through `pipe`; views per
 * page over the last three batches come out through `batches$()` and are printed by an RxJS
 * subscriber. The input's completion stops the job gracefully; the job then checks every view
 * was counted once and every window held exactly the counts of its batches.
 *
 *   node dist/main.js [--events 2000] [--rate 1000] [--batch-ms 500]
 */
import { StreamingContext } from '@dstream/core';
import { integerFlag, runMain } from '@dstream/example-support';
import { map } from 'rxjs';
import { expectedViews, pageEvents$ } from './pageEvents';
import { pageViewsJob } from './pageViewsJob';

/** Batches in a window. */
const WINDOW_BATCHES = 3;

const describeCounts = (counts: ReadonlyMap<string, number>): string =>
  [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([page, count]) => `${page}=${count}`).join(' ') || '-';

const sameCounts = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean =>
  a.size === b.size && [...a].every(([page, count]) => b.get(page) === count);

runMain(async () => {
  const argv = process.argv.slice(2);
  const count = integerFlag(argv, '--events', 2000);
  const rate = integerFlag(argv, '--rate', 1000);
  const batchIntervalMs = integerFlag(argv, '--batch-ms', 500, 10);
  const windowMs = WINDOW_BATCHES * batchIntervalMs;

  const ssc = new StreamingContext({ appName: 'rxjs-page-views', batchIntervalMs });
  // The last events form the batch after completion; a graceful stop still runs that batch.
  const events = ssc.observableStream(pageEvents$(count, rate), { onComplete: () => void ssc.stop() });
  const { viewsPerPage, viewsPerPageInWindow } = pageViewsJob(events, windowMs);

  // Outputs run in registration order: a batch's counts are recorded before its window is checked.
  const batchCounts = new Map<number, Map<string, number>>();
  viewsPerPage.foreachBatch((records, { time }) => void batchCounts.set(time, new Map(records)));

  const badWindows: number[] = [];
  viewsPerPageInWindow
    .batches$()
    .pipe(map(({ time, records }) => ({ time, counts: new Map(records) })))
    .subscribe({
      next: ({ time, counts }) => {
        // What the window should hold: the sum of the batches in (time - windowMs, time].
        const expected = new Map<string, number>();
        for (const [batchTime, batch] of batchCounts) {
          if (batchTime <= time - windowMs || batchTime > time) continue;
          for (const [page, views] of batch) expected.set(page, (expected.get(page) ?? 0) + views);
        }
        if (!sameCounts(counts, expected)) badWindows.push(time);
        const inBatch = [...(batchCounts.get(time)?.values() ?? [])].reduce((sum, views) => sum + views, 0);
        console.log(`batch ${time}: ${inBatch} views; last ${windowMs} ms: ${describeCounts(counts)}`);
      },
      error: () => undefined, // awaitTermination below reports the error
    });

  console.log(`${count} events at ${rate}/s, batches of ${batchIntervalMs} ms, windows of ${windowMs} ms`);
  await ssc.start();
  await ssc.awaitTermination();

  const totals = new Map<string, number>();
  for (const batch of batchCounts.values()) {
    for (const [page, views] of batch) totals.set(page, (totals.get(page) ?? 0) + views);
  }
  const expected = expectedViews(count);
  console.log(`\ntotal views ${describeCounts(totals)}`);
  const viewCount = [...expected.values()].reduce((sum, views) => sum + views, 0);
  if (!sameCounts(totals, expected) || badWindows.length > 0) {
    throw new Error(
      `views per page ${describeCounts(totals)}, expected ${describeCounts(expected)}` +
        (badWindows.length > 0 ? `; windows that differ from their batches: ${badWindows.join(', ')}` : ''),
    );
  }
  console.log(
    `every one of ${viewCount} views counted once in ${batchCounts.size} batches; ` +
      `every window held exactly the counts of its last ${WINDOW_BATCHES} batches`,
  );
});
