import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
import { hostPortOf } from '@dstream/test-utils';

/**
 * A TCP proxy on a free loopback port in front of one server, whose connections can be cut and
 * allowed again: the job's ZooKeeper client connects through it, so the runner can keep that
 * client away while it ends the client's session.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private isOpen = true;

  private constructor(private readonly server: Server) {}

  /** Listens on a free loopback port and forwards every connection to `target` (`host:port`). */
  static async start(target: string): Promise<TcpProxy> {
    const { host, port } = hostPortOf(target);
    let proxy: TcpProxy | undefined;
    const server = createServer((downstream) => {
      if (!proxy!.isOpen) {
        downstream.destroy();
        return;
      }
      const upstream = connect(port, host);
      const drop = () => {
        downstream.destroy();
        upstream.destroy();
        proxy!.sockets.delete(downstream);
        proxy!.sockets.delete(upstream);
      };
      for (const socket of [downstream, upstream]) {
        proxy!.sockets.add(socket);
        socket.on('error', drop).on('close', drop);
      }
      downstream.pipe(upstream).pipe(downstream);
    });
    proxy = new TcpProxy(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** `127.0.0.1:<port>` to connect to instead of the target. */
  get address(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Drops every open connection and refuses new ones until `restore()`. */
  cut(): void {
    this.isOpen = false;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.isOpen = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
