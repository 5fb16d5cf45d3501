import type { OffsetStore } from '../offsets/OffsetStore';
import { StaleOffsetError } from '../errors';
import type { ContractContext } from './offsetStoreContract';
import { first, next, normalize, normalizeEntries, tp, write } from './contractCommits';

/** The contract's cases for state kept with the offsets (`supportsState`). */
export function describeStateCases<Tx>(context: ContractContext<Tx>): void {
  const { describe, expect, open, factory } = context;
  // The test's group, read when each test starts (the suite gives every test its own).
  let group = '';
  const it: ContractContext<Tx>['it'] = (title, body, timeoutMs) =>
    context.it(title, async () => {
      group = context.group();
      await body();
    }, timeoutMs);
  describe('state kept with offsets', () => {
    it('declares supportsState exactly when it implements loadState', async () => {
      const store = await open();
      expect(typeof store.loadState === 'function').toBe(store.supportsState === true);
    });

    // The remaining cases apply to stores that keep state; a store without it passes them trivially.
    async function stateStore(): Promise<OffsetStore<Tx> | undefined> {
      const store = await open();
      return store.supportsState === true ? store : undefined;
    }

    it('loads nothing for an operator that never wrote state', async () => {
      const store = await stateStore();
      if (store === undefined) return;
      expect(await store.loadState!(group, 'sessions')).toBeUndefined();
    });

    it('writes state with the offsets of a commit and loads it back with its kind and version', async () => {
      const store = await stateStore();
      if (store === undefined) return;
      await store.commit(group, [first('orders', 0, 10)], [
        write('totals', [['alice', 3], [7, { n: 1, tags: ['x'] }], [['slice', 1000], [['a', 1]]]]),
        write('windows', [['k', 1]], [], 'reduceByKeyAndWindow', 2),
      ]);
      expect((await store.load(group, [tp('orders', 0)])).get('orders:0')).toBe(10);
      expect(normalize(await store.loadState!(group, 'totals'))).toEqual({
        kind: 'mapWithState',
        stateVersion: 1,
        entries: normalizeEntries([['alice', 3], [7, { n: 1, tags: ['x'] }], [['slice', 1000], [['a', 1]]]]),
      });
      expect(normalize(await store.loadState!(group, 'windows'))).toEqual({ kind: 'reduceByKeyAndWindow', stateVersion: 2, entries: normalizeEntries([['k', 1]]) });
    });

    it('applies upserts and removals on top of the stored state, batch after batch', async () => {
      const store = await stateStore();
      if (store === undefined) return;
      await store.commit(group, [first('orders', 0, 10)], [write('totals', [['alice', 1], ['bob', 2], ['carol', 3]])]);
      await store.commit(group, [next('orders', 0, 10, 20)], [write('totals', [['alice', 5]], ['bob'])]);
      // A batch that changed no state still commits its offsets and keeps the state as it was.
      await store.commit(group, [next('orders', 0, 20, 30)], []);
      expect(normalize(await store.loadState!(group, 'totals'))?.entries).toEqual(normalizeEntries([['alice', 5], ['carol', 3]]));
      expect((await store.load(group, [tp('orders', 0)])).get('orders:0')).toBe(30);
    });

    it('writes state alone when the commit has no ranges', async () => {
      const store = await stateStore();
      if (store === undefined) return;
      await store.commit(group, [], [write('totals', [['alice', 1]])]);
      expect(normalize(await store.loadState!(group, 'totals'))?.entries).toEqual(normalizeEntries([['alice', 1]]));
      expect((await store.load(group, [tp('orders', 0)])).size).toBe(0);
    });

    it('writes no state when the commit is stale', async () => {
      const store = await stateStore();
      if (store === undefined) return;
      await store.commit(group, [first('orders', 0, 10)], [write('totals', [['alice', 1]])]);
      await expect(store.commit(group, [next('orders', 0, 5, 20)], [write('totals', [['alice', 99], ['bob', 1]])])).rejects.toBeInstanceOf(
        StaleOffsetError,
      );
      expect(normalize(await store.loadState!(group, 'totals'))?.entries).toEqual(normalizeEntries([['alice', 1]]));
    });

    it('keeps the state of one group apart from that of another', async () => {
      const store = await stateStore();
      if (store === undefined) return;
      await store.commit(group, [first('orders', 0, 10)], [write('totals', [['alice', 1]])]);
      const other = await open(`${group}-other`);
      expect(await other.loadState!(`${group}-other`, 'totals')).toBeUndefined();
    });

    it('keeps state across close and a new store instance', async () => {
      const before = await stateStore();
      if (before === undefined) return;
      await before.commit(group, [first('orders', 0, 10)], [write('totals', [['alice', 1], ['bob', 2]])]);
      await before.close();
      const after = await open();
      expect(normalize(await after.loadState!(group, 'totals'))?.entries).toEqual(normalizeEntries([['alice', 1], ['bob', 2]]));
    });

    it('lets exactly one of two writers with state from the same expected offset write its state', async () => {
      const a = await stateStore();
      if (a === undefined) return;
      const b = await open();
      await a.commit(group, [first('orders', 0, 10)], []);
      const outcomes = await Promise.allSettled([
        a.commit(group, [next('orders', 0, 10, 20)], [write('totals', [['winner', 'a']])]),
        b.commit(group, [next('orders', 0, 10, 30)], [write('totals', [['winner', 'b']])]),
      ]);
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      const aWon = outcomes[0].status === 'fulfilled';
      expect(normalize(await a.loadState!(group, 'totals'))?.entries).toEqual(normalizeEntries([['winner', aWon ? 'a' : 'b']]));
    });

    if (factory.transactionalWrite !== undefined && factory.readWritten !== undefined) {
      const { transactionalWrite, readWritten } = factory;
      it('writes state, the transaction\'s writes and the offsets together, reading the state after the work ran', async () => {
        const store = await stateStore();
        if (store === undefined || store.transaction === undefined) return;
        const key = `${group}:state-tx`;
        let hasWorkRun = false;
        await store.transaction(
          group,
          [first('orders', 0, 10)],
          async (tx) => {
            await transactionalWrite(tx, key, 'written');
            hasWorkRun = true;
          },
          () => {
            expect(hasWorkRun).toBe(true);
            return [write('totals', [['alice', 1]])];
          },
        );
        expect(await readWritten(key)).toBe('written');
        expect(normalize(await store.loadState!(group, 'totals'))?.entries).toEqual(normalizeEntries([['alice', 1]]));
      });

      it('writes no state when the transaction\'s work throws', async () => {
        const store = await stateStore();
        if (store === undefined || store.transaction === undefined) return;
        const failure = new Error('output failed');
        await expect(
          store.transaction(group, [first('orders', 0, 10)], async () => Promise.reject(failure), () => [write('totals', [['alice', 1]])]),
        ).rejects.toBe(failure);
        expect(await store.loadState!(group, 'totals')).toBeUndefined();
        expect((await store.load(group, [tp('orders', 0)])).size).toBe(0);
      });
    }
  });
}
