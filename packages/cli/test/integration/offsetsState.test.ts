import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OffsetStore, StateWrite } from '@dstream/core';
import { ExitCode, parseStoreUrl } from '@dstream/cli';
import { runCli, services, uniqueName } from './cliTestKit';

const checkpointDir = mkdtempSync(join(tmpdir(), 'dstream-cli-state-'));

/** The stores that keep operator state, by URL. */
const STORES: ReadonlyArray<readonly [string, string]> = [
  ['redis', services.redisUrl],
  ['postgres', services.pgUrl],
  ['checkpoint', `file://${checkpointDir}`],
];

async function withStore<T>(url: string, work: (store: OffsetStore) => Promise<T>): Promise<T> {
  const store = parseStoreUrl('--store', url).create({ mustExist: false, timeoutMs: 10_000 });
  await store.connect();
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** State of `kept` (per operator) and of `old` (two source partitions and the older per-operator format). */
const STATE: StateWrite = ['kept', 'old', 'old@t:0', 'old@t:1'].map((operator) => ({
  operator,
  kind: 'mapWithState',
  stateVersion: 1,
  upserts: [['k', { state: 1, updatedMs: 0 }]],
  removals: [],
}));

afterAll(() => rmSync(checkpointDir, { recursive: true, force: true }));

describe('dstream offsets state', () => {
  it.each(STORES)('lists the state of %s by operator and removes an operator left by the code, a dry run unless --execute', async (_kind, url) => {
    const group = uniqueName('cli-state');
    await withStore(url, (store) => store.commit(group, [], STATE));

    const listed = await runCli(['offsets', 'state', '--store', url, '--group', group, '--json', '--force']);
    expect(listed.code).toBe(ExitCode.OK);
    expect(JSON.parse(listed.out).operators).toEqual([
      { operator: 'kept', names: ['kept'] },
      { operator: 'old', names: ['old', 'old@t:0', 'old@t:1'] },
    ]);

    const dryRun = await runCli(['offsets', 'state', '--store', url, '--group', group, '--remove', 'old', '--force']);
    expect(dryRun.code).toBe(ExitCode.OK);
    expect(dryRun.out).toContain('would remove old (3 state names); pass --execute to delete');
    expect(await withStore(url, (store) => store.listState!(group))).toEqual(['kept', 'old', 'old@t:0', 'old@t:1']);

    const removed = await runCli(['offsets', 'state', '--store', url, '--group', group, '--remove', 'old', '--execute', '--force']);
    expect(removed.code).toBe(ExitCode.OK);
    expect(removed.out).toContain('removed old (3 state names)');
    expect(await withStore(url, (store) => store.listState!(group))).toEqual(['kept']);
    expect(await withStore(url, (store) => store.loadState!(group, 'kept'))).toMatchObject({ kind: 'mapWithState', entries: [['k', { state: 1, updatedMs: 0 }]] });

    const unknown = await runCli(['offsets', 'state', '--store', url, '--group', group, '--remove', 'nope', '--force']);
    expect(unknown.code).toBe(ExitCode.USAGE);
    expect(unknown.err).toContain('--remove must name operators with stored state');
    await withStore(url, (store) => store.deleteState!(group, 'kept'));
  });
});
