// ZooKeeper digest credentials against znodes with an owner-only ACL, on the shared server under
// a root of this run: the right identity works, a wrong one (or none) fails at once with
// AuthenticationError, an unknown scheme fails the session, and nothing printed shows a password.
import { AuthenticationError, ConfigError, OffsetRange } from '@dstream/core';
import { captureOutput } from '@dstream/core/testing';
import { ACL, Client, createClient, Id, Permission } from 'node-zookeeper-client';
import { ZooKeeperOffsetStore } from '@dstream/offsets-zookeeper';
import { services } from '@dstream/test-utils';

const ZK = services.zkConnect;
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const ROOT = `/dstream-auth-${run}`;
const PASSWORD = `ZkPw-${run}`;
const WRONG = `ZkWrong-${run}`;
const credentials = (password: string) => ({ scheme: 'digest', credentials: `app:${password}` });

function call<T>(start: (done: (error: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value as T))));
}

/** A client authenticated as app, which owns ROOT and everything under it. */
let owner: Client;
beforeAll(async () => {
  owner = createClient(ZK);
  owner.addAuthInfo('digest', Buffer.from(`app:${PASSWORD}`));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ZooKeeper at ${ZK} is not reachable`)), 10_000);
    owner.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    owner.connect();
  });
  await call((done) => owner.create(ROOT, Buffer.from(''), [new ACL(Permission.ALL, new Id('auth', ''))], done));
});
/** Deletes `path` and everything under it (as the owner). */
async function removeTree(path: string): Promise<void> {
  const children = await call<string[]>((done) => owner.getChildren(path, done));
  await Promise.all(children.map((child) => removeTree(`${path}/${child}`)));
  await call((done) => owner.remove(path, -1, done));
}
afterAll(async () => {
  await removeTree(ROOT);
  owner.close();
});

const commitOf = (until: number) => [{ range: OffsetRange.create('orders', 0, 0, until), expectedOffset: null }];

async function refused(operation: Promise<unknown>): Promise<{ error: AuthenticationError; elapsedMs: number }> {
  const started = Date.now();
  const error = await operation.then(
    () => new Error('the operation succeeded'),
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AuthenticationError);
  return { error: error as AuthenticationError, elapsedMs: Date.now() - started };
}

describe('ZooKeeperOffsetStore with credentials', () => {
  it('commits and loads as the owner, and creates its znodes owner-only', async () => {
    const store = new ZooKeeperOffsetStore({ connectionString: ZK, root: ROOT, authInfo: credentials(PASSWORD) });
    try {
      await store.connect();
      await store.commit('g', commitOf(5));
      expect((await store.load('g', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(5);
      const [acls] = await call<[ACL[]]>((done) =>
        owner.getACL(`${ROOT}/consumers/g/offsets/orders/0`, (error, list) => done(error, [list])),
      );
      expect(acls.map((acl) => [acl.id.scheme, acl.id.id.split(':')[0], (acl as unknown as { permission: number }).permission])).toEqual([
        ['digest', 'app', Permission.ALL],
      ]);
    } finally {
      await store.close();
    }
  });

  it('refuses a wrong password, no credentials and an unknown scheme at once, and prints no secret', async () => {
    const output = captureOutput();
    const stores: ZooKeeperOffsetStore[] = [];
    const store = (authInfo?: { scheme: string; credentials: string }) => {
      const created = new ZooKeeperOffsetStore({ connectionString: ZK, root: ROOT, authInfo, connectTimeoutMs: 10_000 });
      stores.push(created);
      return created;
    };
    try {
      const wrongStore = store(credentials(WRONG));
      await wrongStore.connect();
      const wrong = await refused(wrongStore.load('g', [{ topic: 'orders', partition: 0 }]));
      expect(wrong.elapsedMs).toBeLessThan(2000);
      expect(wrong.error).toMatchObject({ service: 'zookeeper', address: ZK, user: 'app', retriable: false });
      expect(wrong.error.message).toMatch(/NO_AUTH/);

      const anonymous = store();
      await anonymous.connect();
      const none = await refused(anonymous.commit('other', commitOf(3)));
      expect(none.elapsedMs).toBeLessThan(2000);

      const unknownScheme = await refused(store({ scheme: 'no-such-scheme', credentials: `app:${WRONG}` }).connect());
      expect(unknownScheme.elapsedMs).toBeLessThan(2000);
      expect(unknownScheme.error.message).toMatch(/AUTH_FAILED/);

      for (const error of [wrong.error, none.error, unknownScheme.error]) {
        console.error(error);
        output.record('error', error);
      }
      for (const shown of stores) {
        console.log(shown);
        output.record('store', shown);
      }
      expect(() => new ZooKeeperOffsetStore({ connectionString: ZK, authInfo: { credentials: `app:${WRONG}` } as never })).toThrow(
        ConfigError,
      );
      try {
        new ZooKeeperOffsetStore({ connectionString: ZK, authInfo: { credentials: `app:${WRONG}` } as never });
      } catch (error) {
        console.error(error);
        output.record('config error', error);
      }
    } finally {
      output.restore();
      await Promise.all(stores.map((created) => created.close()));
    }
    const printed = output.text();
    expect(printed).toContain('AuthenticationError');
    expect(printed).not.toContain(PASSWORD);
    expect(printed).not.toContain(WRONG);
  });

  it('refuses a group with CR/LF, naming it escaped', async () => {
    const store = new ZooKeeperOffsetStore({ connectionString: ZK, root: ROOT, authInfo: credentials(PASSWORD) });
    try {
      await store.connect();
      const error = await store.load('bad\r\ngroup', [{ topic: 'orders', partition: 0 }]).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('"bad\\r\\ngroup"');
      expect((error as Error).message).not.toMatch(/[\r\n]/);
    } finally {
      await store.close();
    }
  });
});
