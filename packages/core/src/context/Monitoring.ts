import { ConfigError } from '../errors';
import { MetricsEndpoint } from '../metrics/MetricsEndpoint';
import { StreamingMetrics, type StreamingMetricsOptions } from '../metrics/StreamingMetrics';
import type { ListenerBus } from '../scheduler/ListenerBus';
import { BatchTimeline } from '../ui/BatchTimeline';
import { StreamingUi } from '../ui/StreamingUi';
import { checkListenOptions } from '../util/HttpEndpoint';

/** `StreamingContextOptions.metrics`: Prometheus metrics, served at `/metrics` when `port` is set. */
export interface MetricsOptions extends StreamingMetricsOptions {
  /** Port of the job's `/metrics` endpoint (0: any free port). Leave out to only fill `registry`. */
  readonly port?: number;
  /** Interface to listen on. Default: every interface. */
  readonly host?: string;
}

/** `StreamingContextOptions.ui`: the job's live batch timeline page. */
export interface UiOptions {
  /** Port of the page (0: any free port). */
  readonly port: number;
  /** Interface to listen on. Default: every interface. */
  readonly host?: string;
  /** Finished batches the page keeps (Spark's `spark.streaming.ui.retainedBatches`). Default 1000. */
  readonly retainedBatches?: number;
}

interface Endpoint {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A context's metrics and UI: their listeners from construction, their HTTP servers while it runs. */
export class Monitoring {
  readonly metrics: StreamingMetrics | undefined;
  readonly timeline: BatchTimeline | undefined;
  private readonly metricsEndpoint: MetricsEndpoint | undefined;
  private readonly ui: StreamingUi | undefined;

  /** Checks the options (ConfigError) and adds the listeners to `bus`; nothing listens yet. */
  constructor(bus: ListenerBus, metrics: MetricsOptions | undefined, ui: UiOptions | undefined) {
    if (metrics !== undefined) {
      if (typeof metrics !== 'object' || metrics === null) {
        throw new ConfigError('metrics', metrics, 'must be an object', 'Pass e.g. { port: 9464 }, or { registry } to fill your own.');
      }
      if (metrics.port !== undefined) checkListenOptions('metrics', metrics);
      this.metrics = new StreamingMetrics(metrics);
      bus.add(this.metrics);
      if (metrics.port !== undefined) this.metricsEndpoint = new MetricsEndpoint(this.metrics, { port: metrics.port, host: metrics.host });
    }
    if (ui !== undefined) {
      if (typeof ui !== 'object' || ui === null) throw new ConfigError('ui', ui, 'must be an object', 'Pass e.g. { port: 4040 }.');
      checkListenOptions('ui', ui);
      const retained = ui.retainedBatches ?? 1000;
      if (!Number.isSafeInteger(retained) || retained <= 0) {
        throw new ConfigError('ui.retainedBatches', retained, 'must be a positive integer', 'Pass e.g. 1000.');
      }
      this.timeline = new BatchTimeline(retained);
      bus.add(this.timeline);
      this.ui = new StreamingUi(this.timeline, { port: ui.port, host: ui.host });
    }
  }

  /** The `/metrics` address once listening. */
  get metricsUrl(): string | undefined {
    return this.metricsEndpoint?.url;
  }

  /** The page's address once listening. */
  get uiUrl(): string | undefined {
    return this.ui?.url;
  }

  /** Binds the ports; on failure closes what it opened and rejects (ConfigError naming the option). */
  async start(): Promise<void> {
    const started: Endpoint[] = [];
    try {
      for (const endpoint of this.endpoints()) {
        await endpoint.start();
        started.push(endpoint);
      }
    } catch (error) {
      await Promise.all(started.map((endpoint) => endpoint.close()));
      throw error;
    }
  }

  /** Closes the servers and their open connections. Idempotent. */
  async close(): Promise<void> {
    await Promise.all(this.endpoints().map((endpoint) => endpoint.close()));
  }

  private endpoints(): Endpoint[] {
    return [this.metricsEndpoint, this.ui].filter((endpoint) => endpoint !== undefined);
  }
}
