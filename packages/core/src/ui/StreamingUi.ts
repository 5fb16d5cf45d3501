import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpEndpoint, type ListenOptions } from '../util/HttpEndpoint';
import type { BatchTimeline } from './BatchTimeline';
import { UI_PAGE } from './page';

/** Batches sent to the page: enough for its charts and table, small enough to send on every change. */
const BATCHES_SENT = 200;
/** Changes are sent at most this often per open page. */
const PUSH_INTERVAL_MS = 250;
/** A comment this often keeps proxies from closing an idle event stream. */
const HEARTBEAT_MS = 15_000;

/**
 * The job's own web page, like Spark's Streaming tab: `/` the page (everything inline, nothing
 * from another host), `/api/timeline` the timeline as JSON, `/api/events` the same as
 * server-sent events, pushed as batches progress.
 */
export class StreamingUi {
  private readonly endpoint: HttpEndpoint;
  private readonly streams = new Set<() => void>();

  constructor(
    private readonly timeline: BatchTimeline,
    listen: ListenOptions,
  ) {
    this.endpoint = new HttpEndpoint('ui', listen, (request, response) => this.handle(request, response));
  }

  /** The page's address once listening. */
  get url(): string | undefined {
    return this.endpoint.url;
  }

  start(): Promise<void> {
    return this.endpoint.start();
  }

  async close(): Promise<void> {
    for (const end of [...this.streams]) end();
    await this.endpoint.close();
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(UI_PAGE);
    } else if (path === '/api/timeline') {
      response
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(this.timeline.snapshot(BATCHES_SENT)));
    } else if (path === '/api/events') {
      this.stream(request, response);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  }

  /** Sends the timeline now and after each change, at most every PUSH_INTERVAL_MS. */
  private stream(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    let pending: NodeJS.Timeout | undefined;
    let lastSentMs = 0;
    const send = () => {
      pending = undefined;
      lastSentMs = Date.now();
      response.write(`event: timeline\ndata: ${JSON.stringify(this.timeline.snapshot(BATCHES_SENT))}\n\n`);
    };
    const unsubscribe = this.timeline.onChange(() => {
      if (pending !== undefined) return;
      pending = setTimeout(send, Math.max(0, lastSentMs + PUSH_INTERVAL_MS - Date.now()));
      pending.unref();
    });
    const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), HEARTBEAT_MS).unref();
    const end = () => {
      unsubscribe();
      clearTimeout(pending);
      clearInterval(heartbeat);
      this.streams.delete(end);
      response.end();
    };
    this.streams.add(end);
    request.on('close', end);
    send();
  }
}
