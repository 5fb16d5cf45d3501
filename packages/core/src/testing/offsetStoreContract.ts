import { OffsetStoreError, StaleOffsetError } from '../errors';
import type { OffsetStore } from '../offsets/OffsetStore';
import { commitOf, first, next, sorted, tp } from './contractCommits';
import { describeDeadLetterCases } from './contractDeadLetterCases';
import { describeStateCases } from './contractStateCases';
import { describeTransactionCases } from './contractTransactionCases';

/**
 * How the contract suite obtains stores and, for transactional stores, writes and reads user data
 * through a transaction.
 */
export interface OffsetStoreContractFactory<Tx = unknown> {
  /**
   * A new store instance, already connected, on the same backing state as every other instance
   * this factory creates. The suite closes each store it gets. `group` is the consumer group the
   * instance will serve, for stores bound to one group (a Kafka store connected by its stream).
   */
  create(group: string): Promise<OffsetStore<Tx>>;
  /**
   * Restarts the store's server (stop, then start on the same data). When given, the suite
   * checks that committed offsets survive it.
   */
  restartServer?(): Promise<void>;
  /**
   * Writes `value` under `key` through a transaction handle, as a user's output would. Required
   * when the store supports transactions.
   */
  transactionalWrite?(tx: Tx, key: string, value: string): Promise<void> | void;
  /** Reads what `transactionalWrite` stored under `key`; undefined or null when nothing is. */
  readWritten?(key: string): Promise<unknown>;
}

/** What the suite asserts with: the `expect` of jest or vitest, or anything with these matchers. */
export interface ContractExpect {
  (actual: unknown): ContractMatchers;
}

/** The matchers the suite uses. */
export interface ContractMatchers {
  toBe(expected: unknown): unknown;
  toEqual(expected: unknown): unknown;
  toHaveLength(length: number): unknown;
  toBeInstanceOf(expected: unknown): unknown;
  toMatchObject(expected: object): unknown;
  toBeUndefined(): unknown;
  toThrow(expected?: unknown): unknown;
  readonly rejects: Omit<ContractMatchers, 'rejects' | 'resolves'>;
  readonly resolves: Omit<ContractMatchers, 'rejects' | 'resolves'>;
}

/**
 * The test runner the suite registers with. `@dstream/core/testing` ships in the product, so the
 * suite reaches no runner's globals: pass jest's (or vitest's) `describe`, `it` and `expect`.
 */
export interface ContractRunner {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>, timeoutMs?: number): void;
  readonly expect: ContractExpect;
}

/**
 * Registers the suite every `OffsetStore` passes: loads, compare-and-set commits that are atomic
 * across partitions, transactions (when supported), state written with the offsets (when
 * `supportsState`), durability across instances and server restarts, the life cycle (idempotent
 * close, no use after close). Each test uses its own consumer group, so runs never see each
 * other's data, and closes every store it opened, whatever happened.
 *
 * @example
 * import { describeOffsetStoreContract } from '@dstream/core/testing';
 * describeOffsetStoreContract('RedisOffsetStore', {
 *   create: async () => {
 *     const store = new RedisOffsetStore({ url: 'redis://127.0.0.1:6379' });
 *     await store.connect();
 *     return store;
 *   },
 * }, { describe, it, expect });
 */
/** What the suite's case files share: the runner, the test's store factory and group. */
export interface ContractContext<Tx> {
  readonly describe: ContractRunner['describe'];
  /** Registers a test that gets its own group and has every store it opens closed afterwards. */
  readonly it: (title: string, body: () => Promise<void>, timeoutMs?: number) => void;
  readonly expect: ContractExpect;
  /** A store for the test's group, or for `forGroup`. */
  readonly open: (forGroup?: string) => Promise<OffsetStore<Tx>>;
  /** The running test's group. */
  readonly group: () => string;
  readonly factory: OffsetStoreContractFactory<Tx>;
}

export function describeOffsetStoreContract<Tx>(name: string, factory: OffsetStoreContractFactory<Tx>, runner: ContractRunner): void {
  const { describe, expect } = runner;
  describe(`${name} (OffsetStore contract)`, () => {
    const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    let testNumber = 0;
    let group = '';
    let opened: OffsetStore<Tx>[] = [];

    // Each test gets a fresh group: stores that persist across runs must not leak state into the
    // next test, and every instance the test opens is closed even when an assertion fails.
    const it = (title: string, body: () => Promise<void>, timeoutMs?: number): void =>
      runner.it(
        title,
        async () => {
          testNumber += 1;
          group = `contract-${run}-${testNumber}`;
          opened = [];
          try {
            await body();
          } finally {
            await Promise.allSettled(opened.map((store) => store.close()));
          }
        },
        timeoutMs,
      );

    /** A store for the test's group, or for `forGroup`. */
    async function open(forGroup = group): Promise<OffsetStore<Tx>> {
      const store = await factory.create(forGroup);
      opened.push(store);
      return store;
    }

    it('declares supportsTransactions exactly when it implements transaction', async () => {
      const store = await open();
      expect(typeof store.transaction === 'function').toBe(store.supportsTransactions);
    });

    it('loads no offsets for a group that never committed', async () => {
      const store = await open();
      const loaded = await store.load(group, [tp('orders', 0), tp('orders', 1)]);
      expect(loaded.size).toBe(0);
    });

    it('loads back the offsets committed for several topics and partitions', async () => {
      const store = await open();
      await store.commit(group, [first('orders', 0, 10), first('orders', 1, 20), first('payments.v2', 0, 5)]);
      await store.commit(group, [next('orders', 0, 10, 15), next('payments.v2', 0, 5, 9)]);

      const loaded = await store.load(group, [tp('orders', 0), tp('orders', 1), tp('payments.v2', 0)]);
      expect(sorted(loaded)).toEqual([
        ['orders:0', 15],
        ['orders:1', 20],
        ['payments.v2:0', 9],
      ]);
    });

    it('loads only the partitions it is asked for', async () => {
      const store = await open();
      await store.commit(group, [first('orders', 0, 10), first('orders', 1, 20), first('payments', 3, 30)]);

      const loaded = await store.load(group, [tp('orders', 1), tp('payments', 2)]);
      expect(sorted(loaded)).toEqual([['orders:1', 20]]);
    });

    it('keeps the offsets of one group apart from those of another', async () => {
      const store = await open();
      await store.commit(group, [first('orders', 0, 10)]);

      const other = await open(`${group}-other`);
      expect((await other.load(`${group}-other`, [tp('orders', 0)])).size).toBe(0);
    });

    it('stores offsets up to Number.MAX_SAFE_INTEGER exactly', async () => {
      const store = await open();
      await store.commit(group, [first('orders', 0, Number.MAX_SAFE_INTEGER - 1)]);
      await store.commit(group, [next('orders', 0, Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER)]);

      expect((await store.load(group, [tp('orders', 0)])).get('orders:0')).toBe(Number.MAX_SAFE_INTEGER);
    });

    it('lets exactly one of two writers from the same expected offset win', async () => {
      const [a, b] = [await open(), await open()];
      await a.commit(group, [first('orders', 0, 100)]);

      const outcomes = await Promise.allSettled([
        a.commit(group, [next('orders', 0, 100, 150)]),
        b.commit(group, [next('orders', 0, 100, 170)]),
      ]);

      const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const lost = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const winnerUntil = outcomes[0].status === 'fulfilled' ? 150 : 170;
      expect(lost[0].reason).toBeInstanceOf(StaleOffsetError);
      expect(lost[0].reason).toMatchObject({
        group,
        topic: 'orders',
        partition: 0,
        expectedOffset: 100,
        actualOffset: winnerUntil,
        retriable: false,
      });
      expect((await a.load(group, [tp('orders', 0)])).get('orders:0')).toBe(winnerUntil);
    });

    it('changes none of the partitions of a commit in which one expected offset is wrong', async () => {
      const store = await open();
      await store.commit(group, [first('orders', 0, 10), first('orders', 1, 10), first('payments', 0, 10)]);

      await expect(
        store.commit(group, [next('orders', 0, 10, 20), next('payments', 0, 10, 20), commitOf('orders', 1, 5, 20, 5)]),
      ).rejects.toBeInstanceOf(StaleOffsetError);

      const loaded = await store.load(group, [tp('orders', 0), tp('orders', 1), tp('payments', 0)]);
      expect(sorted(loaded)).toEqual([
        ['orders:0', 10],
        ['orders:1', 10],
        ['payments:0', 10],
      ]);
    });

    it('rejects an expected offset of null when an offset is stored', async () => {
      const store = await open();
      await store.commit(group, [first('orders', 0, 10)]);

      const rejection = store.commit(group, [first('orders', 0, 30)]);
      await expect(rejection).rejects.toBeInstanceOf(StaleOffsetError);
      await expect(rejection).rejects.toMatchObject({ expectedOffset: null, actualOffset: 10 });
      expect((await store.load(group, [tp('orders', 0)])).get('orders:0')).toBe(10);
    });

    it('rejects an expected offset when nothing is stored', async () => {
      const store = await open();

      const rejection = store.commit(group, [next('orders', 0, 10, 20)]);
      await expect(rejection).rejects.toBeInstanceOf(StaleOffsetError);
      await expect(rejection).rejects.toMatchObject({ expectedOffset: 10, actualOffset: null });
      expect((await store.load(group, [tp('orders', 0)])).size).toBe(0);
    });

    it('never moves an offset backwards through compare-and-set', async () => {
      const store = await open();
      await store.commit(group, [first('orders', 0, 50)]);
      await store.commit(group, [next('orders', 0, 50, 100)]);

      // A zombie replaying the batch it already committed, and one resuming from an old offset.
      await expect(store.commit(group, [next('orders', 0, 50, 100)])).rejects.toBeInstanceOf(StaleOffsetError);
      await expect(store.commit(group, [next('orders', 0, 50, 60)])).rejects.toBeInstanceOf(StaleOffsetError);
      await expect(store.commit(group, [first('orders', 0, 40)])).rejects.toBeInstanceOf(StaleOffsetError);

      expect((await store.load(group, [tp('orders', 0)])).get('orders:0')).toBe(100);
    });

    it('shows the commits of one instance to another open instance', async () => {
      const [a, b] = [await open(), await open()];
      await a.commit(group, [first('orders', 0, 10)]);

      expect((await b.load(group, [tp('orders', 0)])).get('orders:0')).toBe(10);
      await b.commit(group, [next('orders', 0, 10, 25)]);
      await expect(a.commit(group, [next('orders', 0, 10, 20)])).rejects.toBeInstanceOf(StaleOffsetError);
      expect((await a.load(group, [tp('orders', 0)])).get('orders:0')).toBe(25);
    });

    it('keeps committed offsets across close and a new store instance', async () => {
      const before = await open();
      await before.commit(group, [first('orders', 0, 10), first('orders', 1, 20)]);
      await before.close();

      const after = await open();
      expect(sorted(await after.load(group, [tp('orders', 0), tp('orders', 1)]))).toEqual([
        ['orders:0', 10],
        ['orders:1', 20],
      ]);
    });

    it('closes idempotently', async () => {
      const store = await open();
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
      await expect(Promise.all([store.close(), store.close()])).resolves.toEqual([undefined, undefined]);
    });

    it('refuses every use after close with a non-retriable OffsetStoreError, connect included', async () => {
      const store = await open();
      await store.commit(group, [first('orders', 0, 10)]);
      await store.close();

      const uses: Array<[string, () => Promise<unknown>]> = [
        ['load', () => store.load(group, [tp('orders', 0)])],
        ['commit', () => store.commit(group, [next('orders', 0, 10, 20)])],
        ['connect', () => store.connect()],
      ];
      if (store.transaction !== undefined) {
        uses.push(['transaction', () => store.transaction!(group, [next('orders', 0, 10, 20)], async () => undefined)]);
      }
      if (store.loadState !== undefined) uses.push(['loadState', () => store.loadState!(group, 'totals')]);
      if (store.loadDeadLetters !== undefined) uses.push(['loadDeadLetters', () => store.loadDeadLetters!(group)]);
      for (const [, use] of uses) {
        const rejection = Promise.resolve().then(use);
        await expect(rejection).rejects.toBeInstanceOf(OffsetStoreError);
        await expect(rejection).rejects.toMatchObject({ retriable: false, store: store.name });
        await expect(rejection).rejects.toThrow(/closed/);
      }
      // Nothing moved: a new instance still finds what was committed before the close.
      expect((await (await open()).load(group, [tp('orders', 0)])).get('orders:0')).toBe(10);
    });

    if (factory.restartServer !== undefined) {
      const restartServer = factory.restartServer.bind(factory);
      it('keeps committed offsets across a restart of the server', async () => {
        const before = await open();
        await before.commit(group, [first('orders', 0, 10), first('payments', 2, 7)]);
        await before.close();

        await restartServer();

        const after = await open();
        expect(sorted(await after.load(group, [tp('orders', 0), tp('payments', 2)]))).toEqual([
          ['orders:0', 10],
          ['payments:2', 7],
        ]);
      }, 120_000);
    }

    const context: ContractContext<Tx> = { describe, it, expect, open, group: () => group, factory };
    describeTransactionCases(context);
    describeStateCases(context);
    describeDeadLetterCases(context);
  });
}

