import { OffsetStoreError, StaleOffsetError } from '../errors';
import { OffsetRange, TopicPartition } from '../offsets/OffsetRange';
import type { DeadLetter } from '../offsets/DeadLetter';
import type { LoadedState, OffsetCommit, OffsetStore, OperatorStateWrite } from '../offsets/OffsetStore';

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
  });
}

/** One operator's state write, of kind mapWithState version 1 unless given. */
function write(
  operator: string,
  upserts: readonly (readonly [unknown, unknown])[],
  removals: readonly unknown[] = [],
  kind = 'mapWithState',
  stateVersion = 1,
): OperatorStateWrite {
  return { operator, kind, stateVersion, upserts, removals };
}

/** Entries in a comparable order (stores return them in any order). */
function normalizeEntries(entries: readonly (readonly [unknown, unknown])[]): string[] {
  return entries.map((entry) => JSON.stringify(entry)).sort();
}

function normalize(state: LoadedState | undefined): { kind: string; stateVersion: number; entries: string[] } | undefined {
  return state === undefined ? undefined : { kind: state.kind, stateVersion: state.stateVersion, entries: normalizeEntries(state.entries) };
}

function tp(topic: string, partition: number): TopicPartition {
  return { topic, partition };
}

/** The commit of range [from, until) expecting `expected` stored. */
function commitOf(topic: string, partition: number, from: number, until: number, expected: number | null): OffsetCommit {
  return { range: OffsetRange.create(topic, partition, from, until), expectedOffset: expected };
}

/** The first commit of a partition: nothing stored yet, range [0, until). */
function first(topic: string, partition: number, until: number): OffsetCommit {
  return commitOf(topic, partition, 0, until, null);
}

/** A follow-up commit: range [from, until), expecting `from` stored. */
function next(topic: string, partition: number, from: number, until: number): OffsetCommit {
  return commitOf(topic, partition, from, until, from);
}

function sorted(offsets: ReadonlyMap<string, number>): Array<[string, number]> {
  return [...offsets].sort(([a], [b]) => a.localeCompare(b));
}
