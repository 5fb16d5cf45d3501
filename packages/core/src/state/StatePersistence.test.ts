import type { StreamingContextLike } from '../context/types';
import { ConfigError } from '../errors';
import { commitBatch } from '../offsets/commitBatch';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { OffsetRange } from '../offsets/OffsetRange';
import type { CommitOrder } from '../offsets/commitBatch';
import type { OffsetCommit } from '../offsets/OffsetStore';
import { ManualClock } from '../testing/ManualClock';
import type { Logger } from '../util/Logger';
import { silentLogger } from '../util/Logger';
import { StateChangeLog, type StatefulOperator } from './StatefulOperator';
import { StatePersistence } from './StatePersistence';
import { stateRegistryOf } from './StateRegistry';

/** A context stand-in: state registration only needs its identity. */
function context(): StreamingContextLike {
  return {
    batchIntervalMs: 1000,
    zeroTimeMs: 0,
    registerInput: () => undefined,
    assertCanAddOperation: () => undefined,
    registerOutput: () => undefined,
    awaitTermination: () => new Promise<void>(() => undefined),
  };
}

/** A running count per key, registered as a stateful operator: `add` is one batch's records. */
class Counter {
  readonly counts = new Map<string, number>();
  private readonly log = new StateChangeLog();
  readonly operator: StatefulOperator;

  constructor(ctx: StreamingContextLike, name: string, kind = 'mapWithState', stateVersion = 1) {
    this.operator = {
      name,
      kind,
      stateVersion,
      changesOf: (time) => this.log.changesOf(time),
      entries: () => this.counts.entries(),
      restore: (entries) => {
        this.counts.clear();
        for (const [key, value] of entries) this.counts.set(key as string, value as number);
      },
    };
    stateRegistryOf(ctx).register(this.operator);
  }

  add(time: number, keys: readonly string[]): void {
    this.log.begin(time);
    for (const key of keys) {
      if (key.startsWith('-')) {
        this.counts.delete(key.slice(1));
        this.log.remove(key.slice(1));
      } else {
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        this.log.upsert(key, this.counts.get(key));
      }
    }
  }
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (message: string) => void lines.push(message);
  return { lines, debug: record, info: record, warn: record, error: record };
}

const range = (from: number, until: number): OffsetCommit => ({
  range: OffsetRange.create('clicks', 0, from, until),
  expectedOffset: from === 0 ? null : from,
});

/** Commits batch `time` (offsets [from, until)) the way the direct stream does, with `keys` as its records. */
async function runBatch(
  order: CommitOrder,
  store: InMemoryOffsetStore,
  persistence: StatePersistence,
  counter: Counter,
  time: number,
  from: number,
  until: number,
  keys: readonly string[],
  output: () => void = () => undefined,
): Promise<void> {
  await commitBatch({
    store,
    group: 'g',
    order,
    commits: [range(from, until)],
    outputs: async () => {
      counter.add(time, keys);
      output();
    },
    state: () => persistence.changesOf(time),
    clock: new ManualClock(0),
    logger: silentLogger,
    outageBudgetMs: 0,
    maxRetries: 0,
    batchTimeMs: time,
    source: 'test',
  });
}

const options = (store: InMemoryOffsetStore, delivery: 'at-most-once' | 'at-least-once' | 'exactly-once', logger: Logger = silentLogger) => ({
  store,
  group: 'g',
  delivery,
  logger,
  source: 'kafka[clicks]',
});

describe('StatePersistence', () => {
  it.each(['in-transaction', 'after-output', 'before-output'] as const)(
    'writes each batch\'s changed and removed keys with the commit (%s) and restores them in a new job before its first batch',
    async (order) => {
      const store = new InMemoryOffsetStore();
      const delivery = order === 'in-transaction' ? 'exactly-once' : order === 'after-output' ? 'at-least-once' : 'at-most-once';
      const first = context();
      const counter = new Counter(first, 'totals');
      const persistence = StatePersistence.claim(first, options(store, delivery));
      await persistence.restore();
      await runBatch(order, store, persistence, counter, 1000, 0, 3, ['alice', 'bob', 'alice']);
      await runBatch(order, store, persistence, counter, 2000, 3, 5, ['-bob', 'carol']);

      const second = context();
      const restored = new Counter(second, 'totals');
      restored.counts.set('stale', 1);
      await StatePersistence.claim(second, options(store, delivery)).restore();
      expect([...restored.counts].sort()).toEqual([
        ['alice', 2],
        ['carol', 1],
      ]);
    },
  );

  it('writes no state of a batch whose output fails, and none of its offsets', async () => {
    const store = new InMemoryOffsetStore();
    const ctx = context();
    const counter = new Counter(ctx, 'totals');
    const persistence = StatePersistence.claim(ctx, options(store, 'exactly-once'));
    await runBatch('in-transaction', store, persistence, counter, 1000, 0, 1, ['alice']);
    await expect(
      runBatch('in-transaction', store, persistence, counter, 2000, 1, 2, ['alice'], () => {
        throw new Error('sink down');
      }),
    ).rejects.toThrow('sink down');
    expect((await store.loadState('g', 'totals'))?.entries).toEqual([['alice', 1]]);
    expect((await store.load('g', [{ topic: 'clicks', partition: 0 }])).get('clicks:0')).toBe(1);
  });

  it('resumes an operator by its name when the job gained another stateful operator before it', async () => {
    const store = new InMemoryOffsetStore();
    const before = context();
    const counter = new Counter(before, 'totals');
    const persistence = StatePersistence.claim(before, options(store, 'exactly-once'));
    await runBatch('in-transaction', store, persistence, counter, 1000, 0, 2, ['alice', 'alice']);

    const after = context();
    const added = new Counter(after, 'sessions');
    const resumed = new Counter(after, 'totals');
    await StatePersistence.claim(after, options(store, 'exactly-once')).restore();
    expect([...resumed.counts]).toEqual([['alice', 2]]);
    expect(added.counts.size).toBe(0);
  });

  it.each([
    ['kind', 'updateStateByKey', 1],
    ['state version', 'mapWithState', 2],
  ] as const)('refuses at restore stored state of another %s, naming the operator', async (_what, kind, stateVersion) => {
    const store = new InMemoryOffsetStore();
    const before = context();
    const counter = new Counter(before, 'totals');
    await runBatch('in-transaction', store, StatePersistence.claim(before, options(store, 'exactly-once')), counter, 1000, 0, 1, ['alice']);

    const after = context();
    new Counter(after, 'totals', kind, stateVersion);
    const restore = StatePersistence.claim(after, options(store, 'exactly-once')).restore();
    await expect(restore).rejects.toBeInstanceOf(ConfigError);
    await expect(restore).rejects.toThrow(/stored state of operator "totals".*mapWithState.*stateVersion.*1/);
  });

  it('logs how long the restore took and how many entries it read', async () => {
    const store = new InMemoryOffsetStore();
    const before = context();
    const counter = new Counter(before, 'totals');
    await runBatch('in-transaction', store, StatePersistence.claim(before, options(store, 'exactly-once')), counter, 1000, 0, 3, ['a', 'b', 'c']);

    const after = context();
    new Counter(after, 'totals');
    const logger = recordingLogger();
    let now = 100;
    const persistence = StatePersistence.claim(after, { ...options(store, 'exactly-once', logger), now: () => (now += 7) });
    await persistence.restore();
    expect(persistence.restoreMs).toBe(7);
    expect(logger.lines).toContain('kafka[clicks]: restored the state of 1 operator(s), 3 entries, from memory in 7.0 ms');
  });

  it('keeps the initial state of an operator with nothing stored', async () => {
    const ctx = context();
    const counter = new Counter(ctx, 'totals');
    counter.counts.set('initial', 5);
    await StatePersistence.claim(ctx, options(new InMemoryOffsetStore(), 'exactly-once')).restore();
    expect([...counter.counts]).toEqual([['initial', 5]]);
  });

  it('refuses exactly-once with stateful operators on a store that cannot keep state, naming the stores that can', () => {
    const store = Object.assign(new InMemoryOffsetStore(), { supportsState: false, name: 'zookeeper' });
    const ctx = context();
    new Counter(ctx, 'totals');
    const claim = () => StatePersistence.claim(ctx, options(store, 'exactly-once'));
    expect(claim).toThrow(ConfigError);
    expect(claim).toThrow(/stateful operators \(totals\).*"zookeeper" cannot.*RedisOffsetStore, PostgresOffsetStore/);
  });

  it('keeps state in memory only, with a warning, for at-least-once on a store that cannot keep state', async () => {
    const store = Object.assign(new InMemoryOffsetStore(), { supportsState: false, name: 'zookeeper' });
    const ctx = context();
    new Counter(ctx, 'totals');
    const logger = recordingLogger();
    const persistence = StatePersistence.claim(ctx, options(store, 'at-least-once', logger));
    expect(persistence.isPersistent).toBe(false);
    expect(persistence.changesOf(1000)).toBeUndefined();
    expect(logger.lines.join('\n')).toMatch(/cannot keep state; the state of totals lives in memory only/);
  });

  it('lets only one Kafka stream of a context keep its state', () => {
    const ctx = context();
    new Counter(ctx, 'totals');
    StatePersistence.claim(ctx, options(new InMemoryOffsetStore(), 'exactly-once'));
    expect(() => StatePersistence.claim(ctx, options(new InMemoryOffsetStore(), 'exactly-once'))).toThrow(/single Kafka input stream/);
  });

  it('claims nothing and writes nothing for a context without stateful operators', async () => {
    const persistence = StatePersistence.claim(context(), options(new InMemoryOffsetStore(), 'exactly-once'));
    expect(persistence.isPersistent).toBe(false);
    await expect(persistence.restore()).resolves.toBeUndefined();
  });
});
