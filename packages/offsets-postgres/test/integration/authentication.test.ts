// Password authentication against a PostgreSQL server of the test's own (scram-sha-256 for every
// role but postgres): right credentials work, wrong ones fail at once with AuthenticationError,
// and nothing printed in any case shows the password.
import { Pool } from 'pg';
import { AuthenticationError, ConfigError, OffsetRange } from '@dstream/core';
import { captureOutput } from '@dstream/core/testing';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { PrivatePostgresServer } from './privatePostgresServer';

const PASSWORD = `PgPw-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
const WRONG = `PgWrong-${Math.random().toString(36).slice(2, 10)}`;
const ROLE = 'dstream_app';

let server: PrivatePostgresServer;
let admin: Pool;
beforeAll(async () => {
  server = await PrivatePostgresServer.start({ passwordAuth: true });
  admin = new Pool({ connectionString: server.connectionString });
  await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await admin.query(`CREATE ROLE dstream_reader LOGIN PASSWORD '${PASSWORD}'`);
  await admin.query(`CREATE SCHEMA app AUTHORIZATION ${ROLE}`);
}, 60_000);
afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

const url = (user: string, password?: string) =>
  `postgres://${user}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@127.0.0.1:${server.port}/postgres`;

/** Connects, expecting a refusal, and returns the error and how long it took. */
async function refusal(store: PostgresOffsetStore): Promise<{ error: AuthenticationError; elapsedMs: number }> {
  const started = Date.now();
  const error = await store.connect().then(
    () => new Error('connect succeeded'),
    (thrown: unknown) => thrown,
  );
  const elapsedMs = Date.now() - started;
  expect(error).toBeInstanceOf(AuthenticationError);
  return { error: error as AuthenticationError, elapsedMs };
}

describe('PostgresOffsetStore with password authentication', () => {
  it('connects and commits with the right password', async () => {
    const store = new PostgresOffsetStore({ connectionString: url(ROLE, PASSWORD), schema: 'app' });
    try {
      await store.connect();
      await store.commit('g', [{ range: OffsetRange.create('orders', 0, 0, 5), expectedOffset: null }]);
      expect((await store.load('g', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(5);
    } finally {
      await store.close();
    }
  });

  it('refuses a wrong password, no password and a role without privileges at once, and prints no secret', async () => {
    const output = captureOutput();
    const errors: AuthenticationError[] = [];
    try {
      const wrong = new PostgresOffsetStore({ connectionString: url(ROLE, WRONG), schema: 'app', connectTimeoutMs: 10_000 });
      const wrongResult = await refusal(wrong);
      expect(wrongResult.elapsedMs).toBeLessThan(2000);
      expect(wrongResult.error).toMatchObject({ service: 'postgres', address: `127.0.0.1:${server.port}/postgres`, user: ROLE, retriable: false });
      expect(wrongResult.error.message).toMatch(/password authentication failed.*SQLSTATE 28P01/);
      errors.push(wrongResult.error);

      const none = new PostgresOffsetStore({ connectionString: url(ROLE), schema: 'app', connectTimeoutMs: 10_000 });
      const noneResult = await refusal(none);
      expect(noneResult.elapsedMs).toBeLessThan(2000);
      errors.push(noneResult.error);

      // Logs in, but may not create the offsets table in schema app.
      const reader = new PostgresOffsetStore({ connectionString: url('dstream_reader', PASSWORD), schema: 'app', table: 'reader_offsets' });
      const readerResult = await refusal(reader);
      expect(readerResult.error.message).toMatch(/permission denied.*SQLSTATE 42501/);
      errors.push(readerResult.error);

      for (const error of errors) {
        console.error(error);
        console.log(`${error}`, error.cause);
        output.record('error', error);
      }
      for (const store of [wrong, none, reader, new PostgresOffsetStore({ connectionString: url(ROLE, PASSWORD) })]) {
        console.log(store);
        output.record('store', store);
        await store.close();
      }
      const misused = [
        () => new PostgresOffsetStore({ connectionString: url(ROLE, PASSWORD), pool: admin }),
        () => new PostgresOffsetStore({ connectionString: `mysql://${ROLE}:${PASSWORD}@127.0.0.1/x` }),
        () => new PostgresOffsetStore({ pool: { connectionString: url(ROLE, PASSWORD), password: PASSWORD } as unknown as Pool }),
      ];
      for (const make of misused) {
        const error = (() => {
          try {
            make();
          } catch (thrown) {
            return thrown;
          }
          throw new Error('expected a ConfigError');
        })();
        expect(error).toBeInstanceOf(ConfigError);
        console.error(error);
        output.record('config error', error);
      }
    } finally {
      output.restore();
    }
    const printed = output.text();
    expect(printed).toContain('password authentication failed');
    expect(printed).toContain('***');
    expect(printed).not.toContain(PASSWORD);
    expect(printed).not.toContain(encodeURIComponent(PASSWORD));
    expect(printed).not.toContain(WRONG);
  }, 30_000);
});
