import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now: for a private server a test starts,
 * or for an address that must refuse connections.
 *
 * @example
 * const port = await freeLoopbackPort();
 * const store = new RedisOffsetStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 });
 */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
