import { Registry } from 'prom-client';
import { StaleOffsetError } from '../errors';
import { OffsetRange } from '../offsets/OffsetRange';
import type { BatchInfo, InputPlannedEvent, OffsetCommitCompletedEvent } from '../scheduler/events';
import { StreamingMetrics } from './StreamingMetrics';

function batch(batchTimeMs: number, ranges: OffsetRange[], delays: Partial<BatchInfo> = {}): BatchInfo {
  return {
    batchTimeMs,
    offsetRanges: ranges,
    numRecords: ranges.reduce((sum, r) => sum + r.count, 0),
    numDeadLetters: 0,
    numAttempts: 1,
    submissionTimeMs: batchTimeMs,
    processingStartTimeMs: batchTimeMs + 100,
    processingEndTimeMs: batchTimeMs + 350,
    schedulingDelayMs: 100,
    processingDelayMs: 250,
    totalDelayMs: 350,
    failure: undefined,
    ...delays,
  };
}

function planned(batchTimeMs: number, partitions: Array<[number, number, number, number]>): InputPlannedEvent {
  return {
    type: 'InputPlanned',
    input: 'kafka[t]',
    batchTimeMs,
    partitions: partitions.map(([partition, fromOffset, untilOffset, logEndOffset]) => ({ topic: 't', partition, fromOffset, untilOffset, logEndOffset })),
  };
}

function commit(ranges: OffsetRange[], outcome: OffsetCommitCompletedEvent['outcome'] = 'committed', durationMs = 20): OffsetCommitCompletedEvent {
  return {
    type: 'OffsetCommitCompleted',
    input: 'kafka[t]',
    store: 'redis',
    group: 'g',
    timeMs: 0,
    durationMs,
    offsetRanges: ranges,
    outcome,
    error: outcome === 'conflict' ? new StaleOffsetError('redis', 'g', 't', 0, 0, 5) : undefined,
  };
}

/** The value of one series, by metric name and labels (undefined when the series does not exist). */
async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l) && Object.keys(v.labels).length >= Object.keys(labels).length);
  return match?.value;
}

describe('StreamingMetrics', () => {
  it('observes completed batches in seconds and counts records per partition', async () => {
    const metrics = new StreamingMetrics({ defaultMetrics: false });
    metrics.onBatchCompleted({ type: 'BatchCompleted', info: batch(1000, [OffsetRange.create('t', 0, 0, 30), OffsetRange.create('t', 1, 5, 15)]) });
    metrics.onBatchCompleted({ type: 'BatchCompleted', info: batch(2000, [OffsetRange.create('t', 0, 30, 35)], { processingDelayMs: 1500, totalDelayMs: 1600 }) });
    const text = await metrics.text();
    expect(text).toContain('dstream_batch_processing_seconds_count 2');
    expect(text).toContain('dstream_batch_processing_seconds_sum 1.75');
    expect(text).toContain('dstream_batch_scheduling_delay_seconds_sum 0.2');
    expect(text).toContain('dstream_batch_total_delay_seconds_sum 1.95');
    expect(text).toContain('dstream_batch_processing_seconds_bucket{le="0.25"} 1');
    expect(text).toContain('dstream_input_records_total{topic="t",partition="0"} 35');
    expect(text).toContain('dstream_input_records_total{topic="t",partition="1"} 10');
    expect(text).toContain('dstream_last_completed_batch_time_seconds 2');
    expect(text).toContain('dstream_batches_failed_total 0');
  });

  it('counts a failed batch as failed and keeps it out of the delays and record counts', async () => {
    const metrics = new StreamingMetrics({ defaultMetrics: false });
    metrics.onBatchCompleted({ type: 'BatchCompleted', info: batch(1000, [OffsetRange.create('t', 0, 0, 30)], { failure: new Error('sink down') }) });
    const text = await metrics.text();
    expect(text).toContain('dstream_batches_failed_total 1');
    expect(text).toContain('dstream_batch_processing_seconds_count 0');
    expect(text).not.toContain('dstream_input_records_total{');
  });

  it('measures lag from each plan\'s log end to the committed offset, and drops partitions no longer planned', async () => {
    const metrics = new StreamingMetrics({ defaultMetrics: false });
    const { registry } = metrics;
    metrics.onInputPlanned(planned(1000, [[0, 0, 60, 100], [1, 10, 10, 10]]));
    expect(await value(registry, 'dstream_consumer_lag_records', { partition: '0' })).toBe(100);
    expect(await value(registry, 'dstream_consumer_lag_records', { partition: '1' })).toBe(0);
    metrics.onOffsetCommitCompleted(commit([OffsetRange.create('t', 0, 0, 60)]));
    expect(await value(registry, 'dstream_consumer_lag_records', { partition: '0' })).toBe(40);
    metrics.onInputPlanned(planned(2000, [[0, 60, 120, 120]]));
    expect(await value(registry, 'dstream_consumer_lag_records', { partition: '0' })).toBe(60);
    expect(await value(registry, 'dstream_consumer_lag_records', { partition: '1' })).toBeUndefined();
    metrics.onOffsetCommitCompleted(commit([OffsetRange.create('t', 0, 60, 120)]));
    expect(await value(registry, 'dstream_consumer_lag_records', { partition: '0' })).toBe(0);
  });

  it('times commits per store and counts conflicts and failures; a refused commit leaves lag as it was', async () => {
    const metrics = new StreamingMetrics({ defaultMetrics: false });
    metrics.onInputPlanned(planned(1000, [[0, 0, 60, 60]]));
    metrics.onOffsetCommitCompleted(commit([OffsetRange.create('t', 0, 0, 60)], 'conflict', 3));
    metrics.onOffsetCommitCompleted(commit([OffsetRange.create('t', 0, 0, 60)], 'failed', 5000));
    const text = await metrics.text();
    expect(text).toContain('dstream_offset_commit_seconds_count{store="redis"} 2');
    expect(text).toContain('dstream_offset_commit_seconds_sum{store="redis"} 5.003');
    expect(text).toContain('dstream_offset_commit_conflicts_total{store="redis"} 1');
    expect(text).toContain('dstream_offset_commit_failures_total{store="redis"} 1');
    expect(text).toContain('dstream_consumer_lag_records{topic="t",partition="0"} 60');
  });

  it('collects Node\'s process metrics in its own registry, and not in a registry it is given', async () => {
    expect(await new StreamingMetrics().text()).toContain('process_cpu_seconds_total');
    const registry = new Registry();
    const metrics = new StreamingMetrics({ registry });
    expect(metrics.registry).toBe(registry);
    expect(await registry.metrics()).not.toContain('process_cpu_seconds_total');
    expect(await registry.metrics()).toContain('dstream_batches_failed_total');
  });

  it('shares the metrics of a registry with a second instance instead of failing on the names', async () => {
    const registry = new Registry();
    const first = new StreamingMetrics({ registry });
    const second = new StreamingMetrics({ registry });
    first.onBatchCompleted({ type: 'BatchCompleted', info: batch(1000, [], { failure: new Error('x') }) });
    second.onBatchCompleted({ type: 'BatchCompleted', info: batch(1000, [], { failure: new Error('y') }) });
    expect(await registry.metrics()).toContain('dstream_batches_failed_total 2');
  });
});
