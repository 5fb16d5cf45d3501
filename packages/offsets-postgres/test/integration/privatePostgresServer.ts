import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeLoopbackPort } from '@dstream/core/testing';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster of the test's own (initdb in a temporary directory, a free loopback port),
 * so tests can crash and restart a server without disturbing the shared one. As root, the server
 * runs as the `postgres` user, which PostgreSQL requires.
 */
export class PrivatePostgresServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /**
   * initdb and start. With `passwordAuth`, TCP logins of every role but `postgres` must give their
   * password (scram-sha-256); `postgres` stays trusted so the test can create roles.
   */
  static async start(options: { passwordAuth?: boolean } = {}): Promise<PrivatePostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), 'dstream-pg-'));
    if (userInfo().uid === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    const server = new PrivatePostgresServer(await freeLoopbackPort(), dir);
    await server.asPostgres('initdb', ['-D', server.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    if (options.passwordAuth === true) {
      const hba = ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256'];
      await server.asPostgres('sh', ['-c', `printf '%s\\n' ${hba.map((line) => `'${line}'`).join(' ')} > ${join(server.dataDir, 'pg_hba.conf')}`]);
    }
    await server.startServer();
    return server;
  }

  get connectionString(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Immediate shutdown (no checkpoint, like a crash), then start with crash recovery. */
  async restart(): Promise<void> {
    await this.crash();
    await this.startServer();
  }

  /** Immediate shutdown: committed transactions survive only through the WAL. */
  async crash(): Promise<void> {
    await this.asPostgres('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
  }

  async startServer(): Promise<void> {
    await this.asPostgres('pg_ctl', [
      '-D', this.dataDir, '-l', join(this.dir, 'postgres.log'), '-w', '-t', '60',
      '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, 'start',
    ]);
  }

  /** Stops the server and deletes its data. */
  async destroy(): Promise<void> {
    await this.crash().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private async asPostgres(command: string, args: string[]): Promise<void> {
    if (userInfo().uid === 0) await run('runuser', ['-u', 'postgres', '--', command, ...args]);
    else await run(command, args);
  }
}
