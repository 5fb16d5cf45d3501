import { mkdirSync, mkdtempSync, promises, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, OffsetRange, OffsetStoreError, StaleOffsetError } from '@dstream/core';
import { describeOffsetStoreContract } from '@dstream/core/testing';
import { CheckpointOffsetStore } from './CheckpointOffsetStore';

// The contract and these tests run on a temporary directory: the store's "server" is the file
// system, so they are unit tests with no service to start.
const directory = mkdtempSync(join(tmpdir(), 'dstream-checkpoint-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

async function open(options: { retain?: number } = {}): Promise<CheckpointOffsetStore> {
  const store = new CheckpointOffsetStore({ directory, ...options });
  await store.connect();
  return store;
}

const first = (topic: string, partition: number, until: number) => ({
  range: OffsetRange.create(topic, partition, 0, until),
  expectedOffset: null,
});
const next = (topic: string, partition: number, from: number, until: number) => ({
  range: OffsetRange.create(topic, partition, from, until),
  expectedOffset: from,
});

describeOffsetStoreContract('CheckpointOffsetStore', { create: () => open() }, { describe, it, expect });

describe('CheckpointOffsetStore', () => {
  it.each([
    ['an empty directory', { directory: '' }, 'directory'],
    ['a retain of zero', { directory, retain: 0 }, 'retain'],
    ['a fractional retain', { directory, retain: 2.5 }, 'retain'],
    ['a file mode beyond 0o777', { directory, fileMode: 0o1777 }, 'fileMode'],
    ['a directory mode given as a string', { directory, dirMode: '700' as unknown as number }, 'dirMode'],
  ])('rejects %s with a ConfigError naming the option', (_, options, option) => {
    expect(() => new CheckpointOffsetStore(options)).toThrow(ConfigError);
    expect(() => new CheckpointOffsetStore(options)).toThrow(expect.objectContaining({ option }));
  });

  it('writes each commit as a complete, versioned JSON checkpoint of the group', async () => {
    const store = await open();
    await store.commit('layout', [first('orders', 0, 10), first('orders', 1, 20)]);
    await store.commit('layout', [next('orders', 0, 10, 15)]);

    const dir = join(directory, 'layout');
    expect(readdirSync(dir).sort()).toEqual(['offsets-0000000000000001.json', 'offsets-0000000000000002.json']);
    const checkpoint = JSON.parse(readFileSync(join(dir, 'offsets-0000000000000002.json'), 'utf8'));
    expect(checkpoint).toEqual({
      format: 'dstream-offsets',
      version: 1,
      group: 'layout',
      savedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      offsets: { orders: { '0': 15, '1': 20 } },
    });
  });

  it('writes no checkpoint for a commit that changes no offset, yet checks its expected offsets', async () => {
    const store = await open();
    await store.commit('idle', [first('orders', 0, 10), first('orders', 1, 20)]);
    await store.commit('idle', [next('orders', 0, 10, 10), next('orders', 1, 20, 20)]);
    await store.commit('idle', [next('orders', 0, 10, 10)]);

    expect(readdirSync(join(directory, 'idle'))).toEqual(['offsets-0000000000000001.json']);
    await expect(store.commit('idle', [next('orders', 0, 9, 10)])).rejects.toThrow(StaleOffsetError);
    await store.commit('idle', [next('orders', 0, 10, 10), next('orders', 1, 20, 21)]);
    expect(readdirSync(join(directory, 'idle')).sort()).toEqual(['offsets-0000000000000001.json', 'offsets-0000000000000002.json']);
  });

  it('keeps the newest `retain` checkpoints as history', async () => {
    const store = await open({ retain: 3 });
    await store.commit('history', [first('orders', 0, 1)]);
    for (let offset = 1; offset < 6; offset += 1) await store.commit('history', [next('orders', 0, offset, offset + 1)]);

    expect(readdirSync(join(directory, 'history')).sort()).toEqual([
      'offsets-0000000000000004.json',
      'offsets-0000000000000005.json',
      'offsets-0000000000000006.json',
    ]);
    expect((await store.load('history', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(6);
  });

  it('gives a group whose id is not a file name its own percent-encoded directory', async () => {
    const store = await open();
    await store.commit('team/a b', [first('orders', 0, 7)]);
    await store.commit('..', [first('orders', 0, 9)]);

    expect(readdirSync(directory)).toEqual(expect.arrayContaining(['team%2Fa%20b', '%2E.']));
    expect((await store.load('team/a b', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(7);
    expect((await store.load('..', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(9);
  });

  it('ignores a temp file left by a writer killed before publishing it', async () => {
    const store = await open();
    await store.commit('killed', [first('orders', 0, 10)]);
    writeFileSync(join(directory, 'killed', '.offsets-999-abc.tmp'), '{"format":"dstream-of');

    expect((await store.load('killed', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(10);
    await store.commit('killed', [next('orders', 0, 10, 12)]);
  });

  it('lets exactly one of many concurrent writers from one expected offset win, and the rest see its offset', async () => {
    const stores = await Promise.all([open(), open(), open(), open(), open()]);
    await stores[0].commit('many', [first('orders', 0, 100)]);

    const outcomes = await Promise.allSettled(stores.map((store, i) => store.commit('many', [next('orders', 0, 100, 110 + i)])));

    const winners = outcomes.flatMap((outcome, i) => (outcome.status === 'fulfilled' ? [110 + i] : []));
    expect(winners).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(StaleOffsetError);
        expect(outcome.reason).toMatchObject({ actualOffset: winners[0] });
      }
    }
    expect((await stores[0].load('many', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(winners[0]);
  });

  it('lets concurrent writers of different partitions of one group all commit', async () => {
    const stores = await Promise.all([open(), open(), open(), open()]);

    await Promise.all(stores.map((store, partition) => store.commit('split', [first('orders', partition, 10 + partition)])));

    const loaded = await stores[0].load('split', [0, 1, 2, 3].map((partition) => ({ topic: 'orders', partition })));
    expect([...loaded.values()].sort()).toEqual([10, 11, 12, 13]);
  });

  it.each([
    ['is not JSON', '{"format": "dstream-offsets", ', 'is not valid JSON'],
    ['is not a checkpoint', '{"hello": 1}', 'is not a dstream offsets checkpoint'],
    [
      'comes from a newer dstream',
      '{"format":"dstream-offsets","version":2,"group":"bad","savedAt":"","offsets":{}}',
      'upgrade @dstream/offsets-checkpoint',
    ],
    [
      'holds a value that is not an offset',
      '{"format":"dstream-offsets","version":1,"group":"bad","savedAt":"","offsets":{"orders":{"0":"12"}}}',
      'holds "12" for orders partition "0"',
    ],
  ])('reports a newest checkpoint that %s with its file name and the fix', async (_, text, problem) => {
    // Another checkpoint directory per case, holding one good checkpoint and the bad one after it.
    const own = mkdtempSync(join(directory, 'damaged-'));
    const store = new CheckpointOffsetStore({ directory: own });
    await store.connect();
    await store.commit('bad', [first('orders', 0, 10)]);
    const path = join(own, 'bad', 'offsets-0000000000000002.json');
    writeFileSync(path, text);

    const load = store.load('bad', [{ topic: 'orders', partition: 0 }]);
    await expect(load).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(load).rejects.toThrow(`checkpoint ${path} `);
    await expect(load).rejects.toThrow(problem);
    rmSync(path);
    // Moving the damaged file away resumes from the checkpoint before it, as the message says.
    expect((await store.load('bad', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(10);
  });

  it('fails to connect to a directory it cannot create, naming it', async () => {
    const file = join(directory, 'a-file');
    writeFileSync(file, '');
    const store = new CheckpointOffsetStore({ directory: join(file, 'offsets') });

    await expect(store.connect()).rejects.toThrow(OffsetStoreError);
    await expect(store.connect()).rejects.toThrow(join(file, 'offsets'));
  });

  it('names the file in the way and the fix when the directory is a file or lies under one', async () => {
    const file = join(directory, 'in-the-way');
    writeFileSync(file, '');
    const asDirectory = new CheckpointOffsetStore({ directory: file });
    await expect(asDirectory.connect()).rejects.toThrow(
      `offset store checkpoint: preparing checkpoint directory ${file} failed: it is a file, not a directory (EEXIST). ` +
        "Pass a directory as the store's directory option, or move the file away",
    );
    const under = new CheckpointOffsetStore({ directory: join(file, 'a', 'b') });
    await expect(under.connect()).rejects.toThrow(
      `preparing checkpoint directory ${join(file, 'a', 'b')} failed: ${file} is a file, not a directory (ENOTDIR)`,
    );
    await expect(under.connect()).rejects.toMatchObject({ retriable: false });
  });

  it('says how to fix a directory the job may not write', async () => {
    const target = join(directory, 'not-writable');
    mkdirSync(target);
    // Root may write anywhere, so the refusal a job running as another user gets is simulated.
    const refused = Object.assign(new Error(`EACCES: permission denied, access '${target}'`), { code: 'EACCES' });
    const access = jest.spyOn(promises, 'access').mockRejectedValueOnce(refused);
    try {
      await expect(new CheckpointOffsetStore({ directory: target }).connect()).rejects.toThrow(
        new RegExp(
          `^offset store checkpoint: preparing checkpoint directory ${target} failed: this process( \\(uid \\d+\\))? may not write there \\(EACCES\\)\\. ` +
            'Make the directory writable by the user the job runs as',
        ),
      );
    } finally {
      access.mockRestore();
    }
  });

  it('creates checkpoints 0600 and its directories 0700 by default, whatever the umask', async () => {
    const root = join(directory, 'modes-default');
    const previous = process.umask(0o002);
    try {
      const store = new CheckpointOffsetStore({ directory: join(root, 'nested') });
      await store.connect();
      await store.commit('modes', [first('orders', 0, 1)]);
    } finally {
      process.umask(previous);
    }
    const groupDir = join(root, 'nested', 'modes');
    expect(statSync(root).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'nested')).mode & 0o777).toBe(0o700);
    expect(statSync(groupDir).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(groupDir)) expect(statSync(join(groupDir, name)).mode & 0o777).toBe(0o600);
  });

  it('applies the fileMode and dirMode it is given', async () => {
    const root = join(directory, 'modes-given');
    const store = new CheckpointOffsetStore({ directory: root, fileMode: 0o640, dirMode: 0o750 });
    await store.connect();
    await store.commit('modes', [first('orders', 0, 1)]);
    expect(statSync(join(root, 'modes')).mode & 0o777).toBe(0o750);
    const [checkpoint] = readdirSync(join(root, 'modes'));
    expect(statSync(join(root, 'modes', checkpoint)).mode & 0o777).toBe(0o640);
  });

  it('refuses a newest checkpoint that is a symbolic link, without reading its target', async () => {
    const store = await open();
    await store.commit('linked', [first('orders', 0, 10)]);
    const secret = join(directory, 'elsewhere.txt');
    writeFileSync(secret, 'password=Target-Content-4711\n');
    symlinkSync(secret, join(directory, 'linked', 'offsets-0000000000000099.json'));

    const load = store.load('linked', [{ topic: 'orders', partition: 0 }]);
    await expect(load).rejects.toThrow(/is a symbolic link/);
    await expect(store.load('linked', [{ topic: 'orders', partition: 0 }]).catch(String)).resolves.not.toContain('Target-Content');
    await expect(store.commit('linked', [next('orders', 0, 10, 20)])).rejects.toThrow(/is a symbolic link/);
    expect(readFileSync(secret, 'utf8')).toBe('password=Target-Content-4711\n');
  });

  it('refuses a group directory that is a symbolic link, for reading and writing', async () => {
    const store = await open();
    const outside = mkdtempSync(join(tmpdir(), 'dstream-outside-'));
    try {
      symlinkSync(outside, join(directory, 'linked-dir'));
      await expect(store.load('linked-dir', [{ topic: 'orders', partition: 0 }])).rejects.toThrow(/is a symbolic link/);
      await expect(store.commit('linked-dir', [first('orders', 0, 1)])).rejects.toThrow(/is a symbolic link/);
      expect(readdirSync(outside)).toEqual([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('does not quote a damaged checkpoint in its error', async () => {
    const store = await open();
    mkdirSync(join(directory, 'damaged'), { recursive: true });
    writeFileSync(join(directory, 'damaged', 'offsets-0000000000000001.json'), 'Quoted-4711: password=x');
    const error = await store.load('damaged', [{ topic: 'orders', partition: 0 }]).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(OffsetStoreError);
    expect((error as Error).message).toMatch(/is not valid JSON/);
    expect((error as Error).message).not.toContain('Quoted');
  });
});
