import { ConfigError, OffsetStoreError, StaleOffsetError } from '../errors';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { OffsetRange } from '../offsets/OffsetRange';
import { silentLogger } from '../util/Logger';
import { DirectKafkaInputDStream } from './DirectKafkaInputDStream';
import {
  countingState,
  FakeKafka,
  fetchedToEnd,
  runBatch,
  setUp,
  stored,
  twoPartitions,
  until,
} from './directStreamTestKit';

describe('DirectKafkaInputDStream commits', () => {
  let input: DirectKafkaInputDStream<string | null, string | null> | undefined;
  afterEach(async () => {
    await input?.stop();
    input = undefined;
  });

  it('does not advance offsets when an output fails, and a recomputed batch reads the same records', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka);
    input = setup.input;
    await input.start();
    await input.generate(1000);
    await expect(
      input.runBatch(1000, async () => {
        await input!.compute(1000);
        throw new Error('sink down');
      }),
    ).rejects.toThrow('sink down');
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, undefined]);
    let again: string[] = [];
    await input.runBatch(1000, async () => {
      again = (await input!.compute(1000)).map((r) => String(r.value));
    });
    expect(again).toEqual(['0:0', '0:1', '0:2', '1:0', '1:1', '1:2']);
    expect(kafka.seeks).toEqual([
      { topic: 't', partition: 0, offset: 0 },
      { topic: 't', partition: 1, offset: 0 },
    ]);
    expect(await stored(setup.store, 0, 1)).toEqual([3, 3]);
  });

  it('mirrors each committed range to the consumer group after the store commit, and only logs a failed mirror', async () => {
    const kafka = twoPartitions(3);
    const warnings: string[] = [];
    const setup = setUp(kafka, {
      mirrorOffsetsToGroup: true,
      logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
    });
    input = setup.input;
    await input.start();
    let groupCommitsDuringOutput = -1;
    await input.generate(1000);
    await input.runBatch(1000, async () => {
      await input!.compute(1000);
      groupCommitsDuringOutput = kafka.groupCommits.length;
    });
    await until(() => kafka.groupCommits.length === 1);
    expect(groupCommitsDuringOutput).toBe(0);
    expect(kafka.groupCommits[0]).toEqual([
      { topic: 't', partition: 0, offset: 3 },
      { topic: 't', partition: 1, offset: 3 },
    ]);
    kafka.failGroupCommits = true;
    kafka.write('t', 0, 2);
    await fetchedToEnd(kafka);
    await runBatch(input, 2000);
    await until(() => warnings.some((w) => /mirroring batch 2000's offsets to consumer group g failed/.test(w)));
    // The store, not the group, is the truth: the batch committed there.
    expect(await stored(setup.store, 0, 1)).toEqual([5, 3]);
  });

  it('commits before the outputs run with at-most-once', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { delivery: 'at-most-once' });
    input = setup.input;
    await input.start();
    await input.generate(1000);
    let storedDuringOutput: unknown[] = [];
    await expect(
      input.runBatch(1000, async () => {
        storedDuringOutput = await stored(setup.store, 0, 1);
        throw new Error('lost');
      }),
    ).rejects.toThrow('lost');
    expect(storedDuringOutput).toEqual([2, 2]);
  });

  it('hands the outputs the store transaction that commits the offsets with exactly-once', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { delivery: 'exactly-once' });
    input = setup.input;
    await input.start();
    await input.generate(1000);
    await input.runBatch(1000, async (tx) => {
      (tx as { set(key: string, value: unknown): void }).set('count', (await input!.compute(1000)).length);
    });
    expect(setup.store.data.get('count')).toBe(4);
    expect(await stored(setup.store, 0, 1)).toEqual([2, 2]);
  });

  it('refuses exactly-once on a store without transactions unless the output is idempotent', () => {
    const store = Object.assign(new InMemoryOffsetStore(), { supportsTransactions: false, name: 'plain' });
    expect(() => setUp(new FakeKafka(), { delivery: 'exactly-once', offsetStore: store })).toThrow(ConfigError);
    expect(() => setUp(new FakeKafka(), { delivery: 'exactly-once', offsetStore: store, idempotentOutput: true })).not.toThrow();
  });

  it('restores the state of the context\'s stateful operators before the first batch and commits each batch\'s changes with its offsets', async () => {
    const kafka = twoPartitions(2);
    const first = setUp(kafka, { delivery: 'exactly-once' });
    const before = countingState(first.context);
    input = first.input;
    await input.start();
    await runBatch(input, 1000, (records) => before.count(1000, records));
    await input.stop();
    expect((await new InMemoryOffsetStore(first.store).loadState('g', 'counts'))?.entries).toHaveLength(4);

    kafka.write('t', 0, 1);
    const second = setUp(kafka, { delivery: 'exactly-once', offsetStore: new InMemoryOffsetStore(first.store) });
    const after = countingState(second.context);
    input = second.input;
    await input.start();
    // Restored at start, before any batch ran.
    expect([...after.counts.keys()].sort()).toEqual(['0:0', '0:1', '1:0', '1:1']);
    await fetchedToEnd(kafka);
    await runBatch(input, 2000, (records) => after.count(2000, records));
    expect(new Map((await new InMemoryOffsetStore(first.store).loadState('g', 'counts'))!.entries as [string, number][])).toEqual(
      new Map([['0:0', 1], ['0:1', 1], ['1:0', 1], ['1:1', 1], ['0:2', 1]]),
    );
  });

  it('refuses to start exactly-once with stateful operators on a store that cannot keep state, before connecting', async () => {
    const kafka = twoPartitions(1);
    const store = Object.assign(new InMemoryOffsetStore(), { supportsState: false, name: 'zookeeper' });
    const setup = setUp(kafka, { delivery: 'exactly-once', offsetStore: store });
    countingState(setup.context);
    input = setup.input;
    await expect(input.start()).rejects.toThrow(/offset store "zookeeper" cannot.*RedisOffsetStore/);
    expect(kafka.calls).not.toContain('connect');
  });

  it('retries a retriable commit failure with backoff on the context clock', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { commitRetries: 2 });
    input = setup.input;
    await input.start();
    setup.store.failNextCommits(2);
    await input.generate(1000);
    const running = input.runBatch(1000, async () => void (await input!.compute(1000)));
    await setup.clock.advance(60_000);
    await running;
    expect(await stored(setup.store, 0, 1)).toEqual([2, 2]);
  });

  it('fails the batch with an OffsetStoreError naming the store and batch once retries run out', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { commitRetries: 1 });
    input = setup.input;
    await input.start();
    setup.store.failNextCommits(5);
    await input.generate(1000);
    const running = input.runBatch(1000, async () => void (await input!.compute(1000)));
    const outcome = running.then(
      () => undefined,
      (error: unknown) => error,
    );
    await setup.clock.advance(60_000);
    const error = (await outcome) as OffsetStoreError;
    expect(error).toBeInstanceOf(OffsetStoreError);
    expect(error.store).toBe('memory');
    expect(error.batchTimeMs).toBe(1000);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, undefined]);
  });

  it('counts a commit as done when its answer was lost and the retry finds the store at the batch end', async () => {
    const kafka = twoPartitions(2);
    const store = new InMemoryOffsetStore();
    // The first commit lands but reports a retriable failure, as a timeout after the write would.
    const realCommit = store.commit.bind(store);
    let calls = 0;
    store.commit = async (group, commits) => {
      calls++;
      await realCommit(group, commits);
      if (calls === 1) throw new OffsetStoreError('memory', 'connection reset', { retriable: true });
    };
    const setup = setUp(kafka, { offsetStore: store });
    input = setup.input;
    await input.start();
    await input.generate(1000);
    const running = input.runBatch(1000, async () => void (await input!.compute(1000)));
    await setup.clock.advance(60_000);
    await running;
    expect(calls).toBe(2);
    // The next batch's compare-and-set expects the committed end.
    kafka.write('t', 0, 1);
    await fetchedToEnd(kafka);
    await runBatch(input, 2000);
    expect(await stored(store, 0, 1)).toEqual([3, 2]);
  });

  it('rejects a stale commit from another writer without retrying', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka);
    input = setup.input;
    await input.start();
    await input.generate(1000);
    
    await setup.store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 1), expectedOffset: null }]);
    const error = await input.runBatch(1000, async () => void (await input!.compute(1000))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OffsetStoreError);
    expect((error as OffsetStoreError).cause).toBeInstanceOf(StaleOffsetError);
  });

  it('waits out a store outage within storeOutageBudgetMs and commits once the store answers again', async () => {
    const kafka = twoPartitions(2);
    const warnings: string[] = [];
    const setup = setUp(kafka, {
      logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
    });
    input = setup.input;
    await input.start();
    // Backoff of 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, then 5 s: ten failures take about 26 s.
    setup.store.failNextCommits(10);
    await input.generate(1000);
    const running = input.runBatch(1000, async () => void (await input!.compute(1000)));
    await setup.clock.advance(40_000);
    await running;
    expect(await stored(setup.store, 0, 1)).toEqual([2, 2]);
    expect(warnings.filter((w) => /offset store memory failed committing batch 1000/.test(w))).toHaveLength(10);
  });

  it('fails the batch naming the store and the budget once the store stays down past storeOutageBudgetMs', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { storeOutageBudgetMs: 10_000 });
    input = setup.input;
    await input.start();
    setup.store.failNextCommits(1000);
    await input.generate(1000);
    const outcome = input.runBatch(1000, async () => void (await input!.compute(1000))).catch((error: unknown) => error);
    await setup.clock.advance(60_000);
    const error = (await outcome) as OffsetStoreError;
    expect(error).toBeInstanceOf(OffsetStoreError);
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(/offset store memory \(batch 1000\).*outage budget of 10000 ms/);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, undefined]);
  });
});
