import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors';

/** Where an endpoint listens: `port` (0: any free one) and `host` (default: every interface). */
export interface ListenOptions {
  readonly port: number;
  readonly host?: string;
}

/** Checks `{ port, host }` of option `option` (e.g. `metrics`); throws `ConfigError`. */
export function checkListenOptions(option: string, value: Partial<ListenOptions>): void {
  const { port, host } = value;
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new ConfigError(`${option}.port`, port, 'must be an integer port from 0 to 65535', 'Pass e.g. 9464, or 0 for any free port.');
  }
  if (host !== undefined && (typeof host !== 'string' || host.length === 0)) {
    throw new ConfigError(`${option}.host`, host, 'must be a non-empty string', "Pass e.g. '127.0.0.1', or leave it out for every interface.");
  }
}

/**
 * A small HTTP server the job runs for itself (metrics, UI): listens when the context starts and
 * closes, connections and all, when it stops.
 */
export class HttpEndpoint {
  private readonly server: Server;
  private address: AddressInfo | undefined;

  constructor(
    private readonly option: string,
    private readonly listen: ListenOptions,
    handler: (request: IncomingMessage, response: ServerResponse) => void | Promise<void>,
  ) {
    this.server = createServer((request, response) => {
      Promise.resolve(handler(request, response)).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(`${(error as Error)?.message ?? String(error)}\n`);
      });
    });
  }

  /** `http://host:port`, with the port actually bound; undefined until listening. */
  get url(): string | undefined {
    if (this.address === undefined) return undefined;
    const { address, family, port } = this.address;
    const host = this.listen.host ?? (family === 'IPv6' && address === '::' ? 'localhost' : address === '0.0.0.0' ? 'localhost' : address);
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** Binds the port; a port in use rejects with a `ConfigError` naming the option. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        reject(
          new ConfigError(
            `${this.option}.port`,
            this.listen.port,
            `must be free to listen on${this.listen.host ? ` at ${this.listen.host}` : ''} (${error.code ?? error.message})`,
            'Pick another port, or 0 for any free one.',
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(this.listen.port, this.listen.host, () => {
        this.server.off('error', onError);
        this.address = this.server.address() as AddressInfo;
        resolve();
      });
    });
  }

  /** Stops listening and ends open connections (keep-alive, event streams). Idempotent. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
