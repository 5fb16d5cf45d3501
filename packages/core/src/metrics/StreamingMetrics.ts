import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type {
  BatchCompletedEvent,
  InputPlannedEvent,
  OffsetCommitCompletedEvent,
  StreamingListener,
} from '../scheduler/events';
import { type PartitionLagEntry, PartitionLag } from './PartitionLag';

/** Histogram buckets, in seconds, of batch delays and commit times: 5 ms to a minute. */
export const DEFAULT_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Options of `StreamingMetrics`, and of `StreamingContextOptions.metrics` (which adds the endpoint). */
export interface StreamingMetricsOptions {
  /** Registry to register into, e.g. the one an existing `/metrics` route serves. Default: a new one. */
  readonly registry?: Registry;
  /** Also collect Node's default process metrics. Default: true for a new registry, false for a given one. */
  readonly defaultMetrics?: boolean;
  /** Buckets of the histograms, in seconds. Default `DEFAULT_BUCKETS_SECONDS`. */
  readonly buckets?: readonly number[];
}

/**
 * A streaming listener that keeps Prometheus metrics of a context: batch delays (histograms in
 * seconds), records read and consumer lag per partition, offset commit time and conflicts per
 * store, failed batches. Only completed batches are observed in the delay histograms and the
 * record counter; a failed batch counts in `dstream_batches_failed_total`.
 *
 * A context with a `metrics` option makes and serves one; make one yourself to serve the
 * metrics from an existing HTTP server.
 *
 * @example
 * const metrics = new StreamingMetrics({ registry });   // your prom-client Registry
 * ssc.addStreamingListener(metrics);
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 */
export class StreamingMetrics implements StreamingListener {
  readonly registry: Registry;
  private readonly processing: Histogram;
  private readonly scheduling: Histogram;
  private readonly total: Histogram;
  private readonly records: Counter<'topic' | 'partition'>;
  private readonly failed: Counter;
  private readonly lastCompleted: Gauge;
  private readonly lag: Gauge<'topic' | 'partition'>;
  private readonly commitSeconds: Histogram<'store'>;
  private readonly commitConflicts: Counter<'store'>;
  private readonly commitFailures: Counter<'store'>;
  private readonly partitionLag = new PartitionLag();

  constructor(options: StreamingMetricsOptions = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    const buckets = [...(options.buckets ?? DEFAULT_BUCKETS_SECONDS)];
    if (options.defaultMetrics ?? options.registry === undefined) collectDefaultMetrics({ register: registry });
    const histogram = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      reuse<Histogram<L>>(registry, name) ?? new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      reuse<Counter<L>>(registry, name) ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      reuse<Gauge<L>>(registry, name) ?? new Gauge<L>({ name, help, labelNames, registers: [registry] });
    this.processing = histogram('dstream_batch_processing_seconds', 'Time from a batch\'s first output to its commit.');
    this.scheduling = histogram('dstream_batch_scheduling_delay_seconds', 'Time a batch waited behind earlier batches.');
    this.total = histogram('dstream_batch_total_delay_seconds', 'Scheduling delay plus processing time of a batch.');
    this.records = counter('dstream_input_records_total', 'Offsets of completed batches, per partition read.', ['topic', 'partition']);
    this.failed = counter('dstream_batches_failed_total', 'Batches whose outputs or commit failed.');
    this.lastCompleted = gauge('dstream_last_completed_batch_time_seconds', 'Batch time of the last completed batch (Unix time).');
    this.lag = gauge('dstream_consumer_lag_records', 'Records in the log past the committed offset.', ['topic', 'partition']);
    this.commitSeconds = histogram('dstream_offset_commit_seconds', 'Time of one offset commit attempt.', ['store']);
    this.commitConflicts = counter('dstream_offset_commit_conflicts_total', 'Commits refused because the store held another offset.', ['store']);
    this.commitFailures = counter('dstream_offset_commit_failures_total', 'Commit attempts that failed for another reason.', ['store']);
  }

  onBatchCompleted({ info }: BatchCompletedEvent): void {
    if (info.failure !== undefined) {
      this.failed.inc();
      return;
    }
    this.processing.observe(info.processingDelayMs / 1000);
    this.scheduling.observe(info.schedulingDelayMs / 1000);
    this.total.observe(info.totalDelayMs / 1000);
    for (const range of info.offsetRanges) {
      this.records.inc({ topic: range.topic, partition: String(range.partition) }, range.count);
    }
    this.lastCompleted.set(info.batchTimeMs / 1000);
  }

  onInputPlanned(event: InputPlannedEvent): void {
    for (const gone of this.partitionLag.planned(event)) this.lag.remove(labelsOf(gone));
    for (const entry of this.partitionLag.list()) this.lag.set(labelsOf(entry), entry.lag);
  }

  onOffsetCommitCompleted(event: OffsetCommitCompletedEvent): void {
    const store = { store: event.store };
    this.commitSeconds.observe(store, event.durationMs / 1000);
    if (event.outcome === 'conflict') this.commitConflicts.inc(store);
    if (event.outcome === 'failed') this.commitFailures.inc(store);
    for (const entry of this.partitionLag.committed(event)) this.lag.set(labelsOf(entry), entry.lag);
  }

  /** The metrics in Prometheus' text format, as a scrape gets them. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

function labelsOf(entry: PartitionLagEntry): { topic: string; partition: string } {
  return { topic: entry.topic, partition: String(entry.partition) };
}

/** A metric of this name already in the registry (a second context in the process): both feed it. */
function reuse<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}
