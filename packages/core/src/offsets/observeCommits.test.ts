import { OffsetStoreError, StaleOffsetError } from '../errors';
import { InMemoryOffsetStore } from './InMemoryOffsetStore';
import { type CommitReport, observeCommits } from './observeCommits';
import { OffsetRange } from './OffsetRange';
import type { OffsetStore } from './OffsetStore';

function setup() {
  const store = new InMemoryOffsetStore();
  const reports: CommitReport[] = [];
  const observed = observeCommits(store, (report) => reports.push(report));
  return { store, observed, reports };
}

const range = OffsetRange.create('t', 0, 0, 10);

describe('observeCommits', () => {
  it('reports a commit that landed with its ranges, store and group, and stores it', async () => {
    const { store, observed, reports } = setup();
    await observed.connect();
    await observed.commit('g', [{ range, expectedOffset: null }]);
    expect(reports).toEqual([
      expect.objectContaining({ store: 'memory', group: 'g', offsetRanges: [range], outcome: 'committed', error: undefined }),
    ]);
    expect(reports[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect((await store.load('g', [range])).get('t:0')).toBe(10);
  });

  it('reports a stale commit as a conflict and rethrows the StaleOffsetError', async () => {
    const { observed, reports } = setup();
    await observed.connect();
    await observed.commit('g', [{ range, expectedOffset: null }]);
    const stale = observed.commit('g', [{ range, expectedOffset: null }]);
    await expect(stale).rejects.toBeInstanceOf(StaleOffsetError);
    expect(reports.map((r) => r.outcome)).toEqual(['committed', 'conflict']);
    expect(reports[1]!.error).toBeInstanceOf(StaleOffsetError);
  });

  it('reports any other store error as failed', async () => {
    const { store, observed, reports } = setup();
    await observed.connect();
    store.failNextCommits(1);
    await expect(observed.commit('g', [{ range, expectedOffset: null }])).rejects.toBeInstanceOf(OffsetStoreError);
    expect(reports.map((r) => r.outcome)).toEqual(['failed']);
  });

  it('reports a transaction once its outputs are done, and nothing when the outputs threw', async () => {
    const { store, observed, reports } = setup();
    await observed.connect();
    await observed.transaction!('g', [{ range, expectedOffset: null }], async (tx) => tx.set('k', 1));
    expect(reports.map((r) => r.outcome)).toEqual(['committed']);
    expect(store.data.get('k')).toBe(1);
    const failing = observed.transaction!('g', [{ range: OffsetRange.create('t', 0, 10, 20), expectedOffset: 10 }], async () => {
      throw new Error('sink down');
    });
    await expect(failing).rejects.toThrow('sink down');
    expect(reports).toHaveLength(1);
  });

  it('passes everything else through: name, supportsTransactions, load, close', async () => {
    const { store, observed } = setup();
    expect(observed.name).toBe(store.name);
    expect(observed.supportsTransactions).toBe(true);
    await observed.connect();
    await observed.commit('g', [{ range, expectedOffset: null }]);
    expect((await observed.load('g', [range])).get('t:0')).toBe(10);
    await observed.close();
  });

  it('keeps a store without transactions without one', () => {
    const inner = new InMemoryOffsetStore();
    const plain: OffsetStore = {
      name: 'plain',
      supportsTransactions: false,
      connect: () => inner.connect(),
      load: (group, partitions) => inner.load(group, partitions),
      commit: (group, commits) => inner.commit(group, commits),
      close: () => inner.close(),
    };
    expect(observeCommits(plain, () => undefined).transaction).toBeUndefined();
  });

  it('never lets a failing report change the commit', async () => {
    const store = new InMemoryOffsetStore();
    const observed = observeCommits(store, () => {
      throw new Error('listener bug');
    });
    await observed.connect();
    await expect(observed.commit('g', [{ range, expectedOffset: null }])).resolves.toBeUndefined();
  });
});
