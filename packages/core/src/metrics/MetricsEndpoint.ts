import { HttpEndpoint, type ListenOptions } from '../util/HttpEndpoint';
import type { StreamingMetrics } from './StreamingMetrics';

/** Serves a `StreamingMetrics` registry at `/metrics` for Prometheus to scrape. */
export class MetricsEndpoint {
  private readonly endpoint: HttpEndpoint;

  constructor(metrics: StreamingMetrics, listen: ListenOptions) {
    this.endpoint = new HttpEndpoint('metrics', listen, async (request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found; metrics are at /metrics\n');
        return;
      }
      const body = await metrics.registry.metrics();
      response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
    });
  }

  /** `http://host:port/metrics` once listening. */
  get url(): string | undefined {
    return this.endpoint.url === undefined ? undefined : `${this.endpoint.url}/metrics`;
  }

  start(): Promise<void> {
    return this.endpoint.start();
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}
