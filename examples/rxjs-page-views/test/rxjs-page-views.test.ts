import path from 'node:path';
import { StreamingContext, silentLogger } from '@dstream/core';
import { ManualClock, waitForBatches } from '@dstream/core/testing';
import { runExample } from '@dstream/example-support';
import { Subject } from 'rxjs';
import { type PageEvent, expectedViews, pageEventsAt } from '../src/pageEvents';
import { pageViewsJob } from '../src/pageViewsJob';

const EVENTS = 600;

describe('examples/rxjs-page-views', () => {
  // The compiled job on the real clock, as a user runs it.
  it('counts every view once and checks each window against its batches, then exits 0', () => {
    const main = path.resolve(__dirname, '../dist/main.js');
    const { status, output } = runExample(main, ['--events', String(EVENTS), '--rate', '1000', '--batch-ms', '200']);
    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    const views = [...expectedViews(EVENTS).values()].reduce((sum, count) => sum + count, 0);
    expect(output).toMatch(new RegExp(`every one of ${views} views counted once in \\d+ batches`));
    expect(output).toMatch(/^batch \d+: \d+ views; last 600 ms: (\w+=\d+ ?)+$/m);
  });

  // The same job on a ManualClock, with a Subject as the source: batch boundaries are exact.
  it('removes retried events within a batch and counts views over the last three batches', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'page-views', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
    const source = new Subject<PageEvent>();
    const { viewsPerPage, viewsPerPageInWindow } = pageViewsJob(ssc.observableStream(source), 3000);
    const perBatch: [string, number][][] = [];
    const windows: [string, number][][] = [];
    const sorted = (records: readonly [string, number][]) => [...records].sort(([a], [b]) => a.localeCompare(b));
    viewsPerPage.foreachBatch((records) => void perBatch.push(sorted(records)));
    viewsPerPageInWindow.foreachBatch((records) => void windows.push(sorted(records)));
    await ssc.start();

    const emit = (...indexes: number[]) => indexes.forEach((index) => pageEventsAt(index).forEach((event) => source.next(event)));
    const tick = async () => {
      const completed = waitForBatches(ssc, 1);
      await clock.advance(1000);
      await completed;
    };
    // Events 3 (checkout, sent twice), 4 (cart), 8 (a heartbeat), 0 (home).
    emit(3, 4, 8, 0);
    await tick();
    emit(13, 13); // product: sent twice by the rule, and the whole retry repeated within the batch
    await tick();
    await tick();
    emit(5); // search
    await tick();
    await ssc.stop();

    expect(perBatch).toEqual([[['cart', 1], ['checkout', 1], ['home', 1]], [['product', 1]], [], [['search', 1]]]);
    expect(windows).toEqual([
      [['cart', 1], ['checkout', 1], ['home', 1]],
      [['cart', 1], ['checkout', 1], ['home', 1], ['product', 1]],
      [['cart', 1], ['checkout', 1], ['home', 1], ['product', 1]],
      // The first batch left the window: its pages fell to 0 and are dropped.
      [['product', 1], ['search', 1]],
    ]);
  });
});
