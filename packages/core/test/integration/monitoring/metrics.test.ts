// A running job's /metrics, scraped over HTTP, against the batches and commits it reported.
import { createTopic, produce, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';
import { monitoredJob } from './helpers';

jest.setTimeout(90_000);

beforeAll(() => requireService('Kafka', services.kafkaBrokers));

/** The value of the sample `name{labels}` in Prometheus' text format. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no sample ${series} in the scrape`);
  return Number(line.slice(series.length + 1));
}

describe('metrics endpoint of a running job', () => {
  it('serves batch delays, records and lag per partition and commit times that match the batches it ran', async () => {
    const topic = uniqueName('metrics');
    await createTopic(topic, 2);
    await produce(topic, [0, 1], 400);
    // 200 records per partition and batch: the backlog takes two batches, so lag is seen to fall.
    const job = monitoredJob(topic, [0, 1], { metrics: { port: 0, host: '127.0.0.1' }, batchIntervalMs: 1000, maxRatePerPartition: 200 });
    await job.ssc.start();
    try {
      const url = job.ssc.metricsUrl!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      await waitFor(() => job.recordsOf(0) + job.recordsOf(1) >= 600, 30_000, 'the first 600 records');
      const midway = await (await fetch(url)).text();
      // After the first batch's commit the log end is 400 and the committed offset 200 (or 400).
      expect(sample(midway, `dstream_consumer_lag_records{topic="${topic}",partition="0"}`)).toBeLessThanOrEqual(200);
      await produce(topic, [1], 100, 400);
      await waitFor(() => job.recordsOf(0) === 400 && job.recordsOf(1) === 500, 30_000, 'all 900 records');
      await job.nextBatch();
      const response = await fetch(url);
      const text = await response.text();
      // Nothing runs between that batch and this scrape: the next batch is an interval away.
      const done = job.completed.filter((info) => info.failure === undefined);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(sample(text, 'dstream_batch_processing_seconds_count')).toBe(done.length);
      expect(sample(text, 'dstream_batch_scheduling_delay_seconds_count')).toBe(done.length);
      expect(sample(text, 'dstream_batch_total_delay_seconds_count')).toBe(done.length);
      const seconds = (pick: (info: (typeof done)[number]) => number) => done.reduce((sum, info) => sum + pick(info), 0) / 1000;
      expect(sample(text, 'dstream_batch_processing_seconds_sum')).toBeCloseTo(seconds((i) => i.processingDelayMs), 6);
      expect(sample(text, 'dstream_batch_scheduling_delay_seconds_sum')).toBeCloseTo(seconds((i) => i.schedulingDelayMs), 6);
      expect(sample(text, 'dstream_batch_total_delay_seconds_sum')).toBeCloseTo(seconds((i) => i.totalDelayMs), 6);
      expect(sample(text, 'dstream_batch_processing_seconds_bucket{le="+Inf"}')).toBe(done.length);
      expect(sample(text, `dstream_input_records_total{topic="${topic}",partition="0"}`)).toBe(400);
      expect(sample(text, `dstream_input_records_total{topic="${topic}",partition="1"}`)).toBe(500);
      expect(sample(text, `dstream_consumer_lag_records{topic="${topic}",partition="0"}`)).toBe(0);
      expect(sample(text, `dstream_consumer_lag_records{topic="${topic}",partition="1"}`)).toBe(0);
      expect(sample(text, 'dstream_offset_commit_seconds_count{store="memory"}')).toBe(job.commits.length);
      expect(job.commits.length).toBeGreaterThanOrEqual(done.length);
      expect(sample(text, 'dstream_offset_commit_seconds_sum{store="memory"}')).toBeCloseTo(
        job.commits.reduce((sum, c) => sum + c.durationMs, 0) / 1000,
        6,
      );
      expect(text).not.toContain('dstream_offset_commit_conflicts_total{');
      expect(sample(text, 'dstream_batches_failed_total')).toBe(0);
      expect(sample(text, 'dstream_last_completed_batch_time_seconds')).toBe(done[done.length - 1]!.batchTimeMs / 1000);
      expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(text).toContain('nodejs_eventloop_lag_seconds');
    } finally {
      await job.ssc.stop();
    }
  });
});
