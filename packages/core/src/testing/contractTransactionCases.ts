import { StaleOffsetError } from '../errors';
import type { OffsetCommit, OffsetStore } from '../offsets/OffsetStore';
import type { ContractContext } from './offsetStoreContract';
import { first, next, sorted, tp } from './contractCommits';

/** The contract's cases for `transaction`: writes and offsets persist together or not at all. */
export function describeTransactionCases<Tx>(context: ContractContext<Tx>): void {
  const { describe, expect, open, factory } = context;
  // The test's group, read when each test starts (the suite gives every test its own).
  let group = '';
  const it: ContractContext<Tx>['it'] = (title, body, timeoutMs) =>
    context.it(title, async () => {
      group = context.group();
      await body();
    }, timeoutMs);
  describe('transactions', () => {
    it('is given transactionalWrite and readWritten by its factory when it supports transactions', async () => {
      const store = await open();
      if (store.supportsTransactions) {
        expect(typeof factory.transactionalWrite).toBe('function');
        expect(typeof factory.readWritten).toBe('function');
      } else {
        expect(store.transaction).toBeUndefined();
      }
    });

    if (factory.transactionalWrite === undefined || factory.readWritten === undefined) return;
    const write = factory.transactionalWrite.bind(factory);
    const read = factory.readWritten.bind(factory);

    async function transact<T>(
      store: OffsetStore<Tx>,
      commits: readonly OffsetCommit[],
      work: (tx: Tx) => Promise<T>,
    ): Promise<T> {
      if (store.transaction === undefined) {
        throw new Error(`${store.name} has transactionalWrite in its factory but no transaction method`);
      }
      return store.transaction(group, commits, work);
    }
    const absent = async (key: string) => expect((await read(key)) ?? undefined).toBeUndefined();

    it('makes the writes and the offsets of a successful transaction visible together', async () => {
      const store = await open();
      const key = `${group}:word:kafka`;

      const result = await transact(store, [first('orders', 0, 10), first('payments', 1, 4)], async (tx) => {
        await write(tx, key, '3');
        return 'done';
      });

      expect(result).toBe('done');
      expect(await read(key)).toBe('3');
      expect(sorted(await store.load(group, [tp('orders', 0), tp('payments', 1)]))).toEqual([
        ['orders:0', 10],
        ['payments:1', 4],
      ]);
    });

    it('leaves neither the writes nor the offsets of a transaction whose work throws', async () => {
      const store = await open();
      const key = `${group}:word:kafka`;
      const failure = new Error('sink rejected the batch');

      await expect(
        transact(store, [first('orders', 0, 10)], async (tx) => {
          await write(tx, key, '3');
          throw failure;
        }),
      ).rejects.toBe(failure);

      await absent(key);
      expect((await store.load(group, [tp('orders', 0)])).size).toBe(0);
    });

    it('discards the writes of a transaction whose offsets are stale', async () => {
      const store = await open();
      const key = `${group}:word:kafka`;
      await store.commit(group, [first('orders', 0, 10)]);

      await expect(
        transact(store, [next('orders', 0, 5, 10)], async (tx) => {
          await write(tx, key, '3');
        }),
      ).rejects.toBeInstanceOf(StaleOffsetError);

      await absent(key);
      expect((await store.load(group, [tp('orders', 0)])).get('orders:0')).toBe(10);
    });

    it('lets exactly one of two transactions from the same expected offset commit its writes', async () => {
      const [a, b] = [await open(), await open()];
      const key = `${group}:word:kafka`;
      await a.commit(group, [first('orders', 0, 10)]);

      const outcomes = await Promise.allSettled([
        transact(a, [next('orders', 0, 10, 20)], async (tx) => write(tx, key, 'a')),
        transact(b, [next('orders', 0, 10, 30)], async (tx) => write(tx, key, 'b')),
      ]);

      const lost = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      expect(lost).toHaveLength(1);
      expect(lost[0].reason).toBeInstanceOf(StaleOffsetError);
      const aWon = outcomes[0].status === 'fulfilled';
      expect(await read(key)).toBe(aWon ? 'a' : 'b');
      expect((await a.load(group, [tp('orders', 0)])).get('orders:0')).toBe(aWon ? 20 : 30);
    });
  });
}
