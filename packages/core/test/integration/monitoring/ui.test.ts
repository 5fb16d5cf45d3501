// The batch timeline page of a running job, rendered by a real headless Chromium, against the
// batches, lag and commits the job reported.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { createTopic, produce, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';
import { monitoredJob } from './helpers';

jest.setTimeout(120_000);

const root = path.resolve(__dirname, '../../../../..');

let browser: Browser;
beforeAll(async () => {
  await requireService('Kafka', services.kafkaBrokers);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** The page's rendering of a range list: one `topic-p [from, until)` per line. */
function rangesText(ranges: readonly { topic: string; partition: number; fromOffset: number; untilOffset: number }[]): string {
  return ranges.map((r) => `${r.topic}-${r.partition} [${r.fromOffset}, ${r.untilOffset})`).join('\n');
}

describe('batch timeline page of a running job', () => {
  it('renders the batches, their ranges, lag per partition and the last commit as the job reported them, live', async () => {
    const topic = uniqueName('ui');
    await createTopic(topic, 3);
    await produce(topic, [0, 1, 2], 300);
    const job = monitoredJob(topic, [0, 1, 2], { ui: { port: 0, host: '127.0.0.1' }, batchIntervalMs: 1500, maxRatePerPartition: 100 });
    await job.ssc.start();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(job.ssc.uiUrl!);
      await page.getByTestId('status').filter({ hasText: 'active' }).waitFor();
      // 150 records per partition and batch: two batches drain the backlog, then a second wave.
      await waitFor(() => job.recordsOf(0) >= 300, 30_000, 'the first wave');
      await produce(topic, [0, 2], 120, 300);
      await waitFor(() => job.recordsOf(0) === 420 && job.recordsOf(1) === 300 && job.recordsOf(2) === 420, 30_000, 'the second wave');
      // Compare right after a batch: the next one is an interval away, and the page catches up
      // through its event stream (no reload).
      await job.nextBatch();
      const batches = [...job.completed];
      await page.waitForSelector(`body[data-rendered-batches="${batches.length}"]`, { timeout: 5_000 });

      expect(await page.getByTestId('app-name').textContent()).toBe(job.ssc.appName);
      expect(await page.getByTestId('completed-count').textContent()).toBe(String(batches.length));
      expect(await page.getByTestId('failed-count').textContent()).toBe('0');
      const records = batches.reduce((sum, info) => sum + info.numRecords, 0);
      expect(records).toBe(1140);
      expect(await page.getByTestId('total-records').textContent()).toBe(String(records));
      expect(await page.getByTestId('total-lag').textContent()).toBe('0');

      // Every completed batch (the table shows the latest 50) with its records and ranges.
      const rows = page.getByTestId('completed-batches').locator('tr');
      expect(await rows.count()).toBe(Math.min(50, batches.length));
      for (const info of batches.slice(-50)) {
        const row = page.locator(`[data-testid="completed-batches"] tr[data-batch-time="${info.batchTimeMs}"]`);
        expect(await row.locator('td.records').textContent()).toBe(String(info.numRecords));
        expect(await row.locator('td.ranges').textContent()).toBe(rangesText(info.offsetRanges));
      }
      // The latest batch first.
      expect(await rows.first().getAttribute('data-batch-time')).toBe(String(batches[batches.length - 1]!.batchTimeMs));

      // Averages over the charted batches, formatted as the page does.
      const interval = 1500;
      const rates = batches.map((info) => (info.numRecords * 1000) / interval);
      const avgRate = rates.reduce((a, b) => a + b, 0) / rates.length;
      const rateText = `${avgRate >= 100 ? Math.round(avgRate) : Math.round(avgRate * 10) / 10} records/s`;
      expect(await page.getByTestId('avg-input-rate').textContent()).toBe(rateText);
      // One point per batch in each chart.
      const points = await page.locator('[data-testid="chart-input-rate"] polyline').getAttribute('points');
      expect(points!.split(' ')).toHaveLength(batches.length);

      for (const [partition, end] of [[0, 420], [1, 300], [2, 420]] as const) {
        const row = page.locator(`[data-testid="lag"] tr[data-partition="${topic}:${partition}"]`);
        expect(await row.locator('td.committed').textContent()).toBe(String(end));
        expect(await row.locator('td.log-end').textContent()).toBe(String(end));
        expect(await row.locator('td.lag').textContent()).toBe('0');
      }

      const lastCommit = job.commits[job.commits.length - 1]!;
      const commitRow = page.locator('[data-testid="commits"] tr[data-store="memory"]');
      expect(await commitRow.locator('td.outcome').textContent()).toBe('committed');
      expect(await commitRow.locator('td.ranges').textContent()).toBe(
        lastCommit.offsetRanges.map((r) => `${r.topic}-${r.partition} @ ${r.untilOffset}`).join('\n'),
      );

      const screenshots = path.join(root, '.dstream', 'screenshots');
      mkdirSync(screenshots, { recursive: true });
      // Kept out of the repository: docs/images/ui.png shows examples/monitoring instead.
      await page.screenshot({ path: path.join(screenshots, 'ui.png'), fullPage: true });
    } finally {
      await page.close();
      await job.ssc.stop();
    }
  });
});
