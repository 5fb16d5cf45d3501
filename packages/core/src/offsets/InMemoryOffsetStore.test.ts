import { OffsetStoreError } from '../errors';
import { describeOffsetStoreContract } from '../testing/offsetStoreContract';
import { InMemoryOffsetStore, InMemoryTransaction } from './InMemoryOffsetStore';
import { OffsetRange } from './OffsetRange';

// Every instance the suite opens shares one memory, as instances of another store share a server.
const shared = new InMemoryOffsetStore();

describeOffsetStoreContract<InMemoryTransaction>(
  'InMemoryOffsetStore',
  {
    create: async () => {
      const store = new InMemoryOffsetStore(shared);
      await store.connect();
      return store;
    },
    transactionalWrite: (tx, key, value) => tx.set(key, value),
    readWritten: async (key) => shared.data.get(key),
  },
  { describe, it, expect },
);

describe('InMemoryOffsetStore', () => {
  it('fails the next commits with a retriable error and leaves the offsets unchanged', async () => {
    const store = new InMemoryOffsetStore();
    await store.connect();
    const commit = [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }];
    store.failNextCommits(1);

    await expect(store.commit('g', commit)).rejects.toMatchObject({ constructor: OffsetStoreError, retriable: true });
    expect((await store.load('g', [{ topic: 'orders', partition: 0 }])).size).toBe(0);

    await store.commit('g', commit);
    expect((await store.load('g', [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(10);
  });
});
