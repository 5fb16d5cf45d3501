import { OffsetStoreError } from '../errors';
import { describeOffsetStoreContract } from '../testing/offsetStoreContract';
import { InMemoryOffsetStore, InMemoryTransaction } from './InMemoryOffsetStore';
import { OffsetRange } from './OffsetRange';

// An in-memory store's state lives in its instance, so "another instance" of the same backing
// state is the same object: close() releases nothing and the data stays.
const shared = new InMemoryOffsetStore();

describeOffsetStoreContract<InMemoryTransaction>('InMemoryOffsetStore', {
  create: async () => shared,
  transactionalWrite: (tx, key, value) => tx.set(key, value),
  readWritten: async (key) => shared.data.get(key),
});

describe('InMemoryOffsetStore', () => {
  it('fails the next commits with a retriable error and leaves the offsets unchanged', async () => {
    const store = new InMemoryOffsetStore();
    const commit = [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }];
    store.failNextCommits(1);

    await expect(store.commit('g', commit)).rejects.toMatchObject({ constructor: OffsetStoreError, retriable: true });
    expect((await store.load('g', [{ topic: 'orders', partition: 0 }])).size).toBe(0);

    await store.commit('g', commit);
    expect((await store.load('g', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(10);
  });
});
