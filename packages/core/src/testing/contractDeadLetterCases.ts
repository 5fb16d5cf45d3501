import { StaleOffsetError } from '../errors';
import type { DeadLetter } from '../offsets/DeadLetter';
import type { ContractContext } from './offsetStoreContract';
import { first, next, tp } from './contractCommits';

/** The contract's cases for dead letters (stores that keep them). */
export function describeDeadLetterCases<Tx>(context: ContractContext<Tx>): void {
  const { describe, expect, open } = context;
  // The test's group, read when each test starts (the suite gives every test its own).
  let group = '';
  const it: ContractContext<Tx>['it'] = (title, body, timeoutMs) =>
    context.it(title, async () => {
      group = context.group();
      await body();
    }, timeoutMs);
  describe('dead letters (stores that keep them)', () => {
    const letter = (partition: number, offset: number, value: string | null = `${partition}:${offset}`): DeadLetter => ({
      topic: 'orders',
      partition,
      offset,
      key: 'k',
      value,
      operator: 'map',
      error: `bad ${value}`,
      attempts: 3,
      batchTimeMs: 1_700_000_000_000,
    });

    it('implements loadDeadLetters exactly when it implements writeDeadLetters', async () => {
      const store = await open();
      expect(typeof store.loadDeadLetters).toBe(typeof store.writeDeadLetters);
    });

    it('keeps one letter per record, in log order, whatever is written again, apart from other groups', async () => {
      const store = await open();
      if (store.writeDeadLetters === undefined) return;
      await store.writeDeadLetters(group, [letter(1, 7), letter(0, 12)]);
      await store.writeDeadLetters(group, [letter(0, 12, 'written again'), letter(0, 3, null)]);
      await store.writeDeadLetters(`${group}-other`, [letter(0, 1)]);
      const reopened = await open();
      expect(await reopened.loadDeadLetters!(group)).toEqual([letter(0, 3, null), letter(0, 12), letter(1, 7)]);
      expect(await reopened.loadDeadLetters!(`${group}-never`)).toEqual([]);
    });

    it('keeps the letters written through a transaction exactly when its offsets commit', async () => {
      const store = await open();
      if (store.writeDeadLetters === undefined || store.transaction === undefined) return;
      await store.commit(group, [first('orders', 0, 10)]);
      const stale = store.transaction(group, [first('orders', 0, 20)], (tx) => store.writeDeadLetters!(group, [letter(0, 15)], tx));
      await expect(stale).rejects.toBeInstanceOf(StaleOffsetError);
      const failing = store.transaction(group, [next('orders', 0, 10, 20)], async (tx) => {
        await store.writeDeadLetters!(group, [letter(0, 16)], tx);
        throw new Error('output failed');
      });
      await expect(failing).rejects.toThrow('output failed');
      expect(await store.loadDeadLetters!(group)).toEqual([]);
      await store.transaction(group, [next('orders', 0, 10, 20)], (tx) => store.writeDeadLetters!(group, [letter(0, 17)], tx));
      expect(await store.loadDeadLetters!(group)).toEqual([letter(0, 17)]);
      expect((await store.load(group, [tp('orders', 0)])).get('orders:0')).toBe(20);
    });
  });
}
