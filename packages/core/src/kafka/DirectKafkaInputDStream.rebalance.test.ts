import { KafkaError, OffsetStoreError, StaleOffsetError } from '../errors';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { OffsetRange } from '../offsets/OffsetRange';
import { StateChangeLog } from '../state/StatefulOperator';
import { stateRegistryOf } from '../state/StateRegistry';
import { silentLogger } from '../util/Logger';
import { ConsumerStrategies } from './ConsumerStrategies';
import { DirectKafkaInputDStream } from './DirectKafkaInputDStream';
import type { ConsumerRecord } from './DirectStreamOptions';
import {
  countingState,
  FakeKafka,
  fetchedToEnd,
  runBatch,
  setUp,
  stored,
  turns,
  twoPartitions,
  until,
} from './directStreamTestKit';

describe('DirectKafkaInputDStream under group rebalances', () => {
  let input: DirectKafkaInputDStream<string | null, string | null> | undefined;
  afterEach(async () => {
    await input?.stop();
    input = undefined;
  });

  it('loads offsets for partitions assigned by the group and plans them from the next batch', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    expect(kafka.calls).toContain('assign t-0@0');
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '0:2']);
  });

  it('loads the state of partitions the group assigns before planning them, writes a batch state per partition, drops it on revoke', async () => {
    const kafka = twoPartitions(2);
    const store = new InMemoryOffsetStore();
    await store.commit('g', [], [{ operator: 'counts@t:0', kind: 'mapWithState', stateVersion: 1, upserts: [['0:0', 5]], removals: [] }]);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), offsetStore: store });
    input = setup.input;
    const counts = new Map<string, number>();
    const events: string[] = [];
    const log = new StateChangeLog();
    let isScoped = false;
    stateRegistryOf(setup.context).register({
      name: 'counts',
      kind: 'mapWithState',
      stateVersion: 1,
      changesOf: (time) => log.changesOf(time),
      entries: () => counts.entries(),
      restore: () => undefined,
      canScopeByPartition: true,
      scopeByPartition: () => void (isScoped = true),
      get isScoped() {
        return isScoped;
      },
      loadPartition: (partition, entries) => {
        events.push(`load ${partition} ${JSON.stringify([...entries])}`);
        for (const [key, value] of entries) counts.set(key as string, value as number);
      },
      dropPartition: (partition) => void events.push(`drop ${partition}`),
    });
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    expect(isScoped).toBe(true);
    expect(events).toEqual(['load t:0 [["0:0",5]]', 'load t:1 []']);
    await runBatch(input, 1000, (records) => {
      log.begin(1000);
      for (const { partition, value } of records) {
        counts.set(String(value), (counts.get(String(value)) ?? 0) + 1);
        log.upsert(String(value), counts.get(String(value)), `t:${partition}`);
      }
    });
    expect((await store.loadState('g', 'counts@t:0'))?.entries).toEqual([['0:0', 6], ['0:1', 1]]);
    expect((await store.loadState('g', 'counts@t:1'))?.entries).toEqual([['1:0', 1], ['1:1', 1]]);
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    await until(() => events.includes('drop t:0'));
  });

  it('lets a batch whose partitions are revoked while it runs commit them before giving them up', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await input.generate(1000);
    let callsDuringOutput: string[] = [];
    await input.runBatch(1000, async () => {
      await input!.compute(1000);
      // The group takes both partitions away, then gives back only partition 1.
      kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
      kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 1 }] });
      await turns(20);
      callsDuringOutput = [...kafka.calls];
    });
    // Nothing was given up while the batch ran; its commit covers both partitions it delivered.
    expect(callsDuringOutput).not.toContain('unassign');
    expect(await stored(setup.store, 0, 1)).toEqual([3, 3]);
    await until(() => kafka.calls.includes('assign t-1@3'));
    expect(kafka.calls.slice(-2)).toEqual(['unassign', 'assign t-1@3']);
    // Partition 1 goes on from what the store holds; partition 0 is gone.
    kafka.write('t', 1, 2);
    await fetchedToEnd(kafka);
    expect(await runBatch(input, 2000)).toEqual(['1:3', '1:4']);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-1 [3, 5)']);
    expect(await stored(setup.store, 0, 1)).toEqual([3, 5]);
  });

  it('delivers and commits none of a partition revoked after its batch was planned and before it ran', async () => {
    const kafka = twoPartitions(3);
    kafka.protocol = 'COOPERATIVE';
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    await input.generate(1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 3)', 't-1 [0, 3)']);
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    await until(() => kafka.calls.includes('incrementalUnassign t-0'));
    let values: string[] = [];
    await input.runBatch(1000, async () => {
      values = (await input!.compute(1000)).map((r) => String(r.value));
    });
    expect(values).toEqual(['1:0', '1:1', '1:2']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-1 [0, 3)']);
    expect(input.recordCount(1000)).toBe(3);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, 3]);
  });

  it('drops a revoked partition whose records the running batch still waits for, and delivers and commits the rest', async () => {
    const kafka = twoPartitions(3);
    kafka.protocol = 'COOPERATIVE';
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    // librdkafka pauses a partition it is about to revoke and delivers none of its records until
    // it is unassigned: partition 0's new records never arrive.
    kafka.paused.add('t:0');
    kafka.write('t', 0, 2);
    kafka.cached.set('t:0', { low: 0, high: 5 });
    await input.generate(1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 5)', 't-1 [0, 3)']);
    let values: string[] = [];
    await input.runBatch(1000, async () => {
      const computing = input!.compute(1000);
      await turns(5);
      kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
      values = (await computing).map((r) => String(r.value));
    });
    expect(values).toEqual(['1:0', '1:1', '1:2']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-1 [0, 3)']);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, 3]);
    await until(() => kafka.calls.includes('incrementalUnassign t-0'));
  });

  it('under exactly-once reads the records before the transaction opens, so a revoke meanwhile drops the partition instead of waiting for the batch', async () => {
    const kafka = twoPartitions(3);
    // The eager protocol: the revoke waits for the running batch before the group moves on.
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), delivery: 'exactly-once', revokeTimeoutMs: 60_000 });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    // Partition 0's new records never arrive: librdkafka holds a partition it revokes paused.
    kafka.paused.add('t:0');
    kafka.write('t', 0, 2);
    kafka.cached.set('t:0', { low: 0, high: 5 });
    await input.generate(1000);
    let values: string[] = [];
    let transactions = 0;
    const running = input.runBatch(1000, async (tx) => {
      transactions += 1;
      const records = await input!.compute(1000);
      values = records.map((r) => String(r.value));
      (tx as { set(key: string, value: unknown): void }).set('count', records.length);
    });
    await turns(5);
    expect(transactions).toBe(0);
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    await running;
    expect(values).toEqual(['1:0', '1:1', '1:2']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-1 [0, 3)']);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, 3]);
    expect(setup.store.data.get('count')).toBe(3);
    await until(() => kafka.calls.includes('unassign'));
  });

  it('fails a batch that outlasts revokeTimeoutMs instead of committing the partitions it gave up, and aborts its transaction', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t']),
      delivery: 'exactly-once',
      revokeTimeoutMs: 5000,
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await input.generate(1000);
    let release!: () => void;
    const slowOutput = new Promise<void>((resolve) => (release = resolve));
    const running = input
      .runBatch(1000, async (tx) => {
        (tx as { set(key: string, value: unknown): void }).set('count', (await input!.compute(1000)).length);
        kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
        await slowOutput;
      })
      .catch((error: unknown) => error);
    await until(() => setup.clock.waiterCount > 0);
    await setup.clock.advance(5000);
    await until(() => kafka.calls.includes('unassign'));
    release();
    const error = (await running) as Error;
    expect(error.name).toBe('FencedBatchError');
    expect(error.message).toMatch(/batch 1000 did not commit t:0, t:1.*revokeTimeoutMs \(5000 ms\)/);
    expect(await stored(setup.store, 0, 1)).toEqual([undefined, undefined]);
    expect(setup.store.data.has('count')).toBe(false);
  });

  it('plans a partition handed back while a batch was planned from its new start, not from the stale plan', async () => {
    const kafka = twoPartitions(3);
    kafka.protocol = 'COOPERATIVE';
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    // Partition 1's bounds must be asked of the leader; the answer waits until released.
    kafka.cached.delete('t:1');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const query = kafka.queryWatermarkOffsets.bind(kafka);
    kafka.queryWatermarkOffsets = async (p) => {
      if (p.partition === 1) await gate;
      return query(p);
    };
    const planning = input.generate(1000);
    // Meanwhile the group takes partition 0 away and gives it back.
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await until(() => kafka.calls.includes('incrementalAssign t-0@0'));
    release();
    await planning;
    await input.generate(2000);
    expect(input.offsetRanges(2000).map(String)).toContain('t-0 [0, 3)');
  });

  it('plans from the stored offset, instead of stopping, when a member that lost a partition committed it after this one loaded it', async () => {
    const kafka = twoPartitions(3);
    const warnings: string[] = [];
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t']),
      delivery: 'exactly-once',
      logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    await fetchedToEnd(kafka);
    await input.generate(1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 3)', 't-1 [0, 3)']);
    kafka.write('t', 0, 2);
    kafka.write('t', 1, 2);
    await fetchedToEnd(kafka);
    // Planned before the conflict shows: from where batch 1000 ends.
    await input.generate(2000);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [3, 5)', 't-1 [3, 5)']);
    // The previous owner of partition 0, past its fence, commits [0, 2) in its own transaction.
    await setup.store.transaction('g', [{ range: OffsetRange.create('t', 0, 0, 2), expectedOffset: null }], async (tx) => {
      tx.set('0:0', 'zombie');
      tx.set('0:1', 'zombie');
    });
    const counted = (tx: unknown, records: readonly ConsumerRecord<string | null, string | null>[]) => {
      for (const { value } of records) (tx as { set(key: string, value: unknown): void }).set(String(value), 'owner');
    };
    await input.runBatch(1000, async (tx) => counted(tx, await input!.compute(1000)));
    // Nothing of batch 1000 was written; the job goes on.
    expect([...setup.store.data.values()].filter((by) => by === 'owner')).toEqual([]);
    expect(input.offsetRanges(1000)).toEqual([]);
    expect(input.recordCount(1000)).toBe(0);
    expect(warnings.join('\n')).toMatch(
      /batch 1000 was not committed: t-0 holds offset 2 where the batch expected none.*Planning from the stored offsets: t-0@2, t-1@0/,
    );
    // Batch 2000 was planned from offsets that no longer hold: it claims neither partition.
    await input.runBatch(2000, async (tx) => counted(tx, await input!.compute(2000)));
    expect(input.offsetRanges(2000)).toEqual([]);
    await input.generate(3000);
    expect(input.offsetRanges(3000).map(String)).toEqual(['t-0 [2, 5)', 't-1 [0, 5)']);
    await input.runBatch(3000, async (tx) => counted(tx, await input!.compute(3000)));
    expect(await stored(setup.store, 0, 1)).toEqual([5, 5]);
    // Every record counted once: the previous owner's two, then this member's.
    const expected = new Map([
      ['0:0', 'zombie'],
      ['0:1', 'zombie'],
      ...['0:2', '0:3', '0:4', '1:0', '1:1', '1:2', '1:3', '1:4'].map((id) => [id, 'owner'] as [string, string]),
    ]);
    expect(new Map([...setup.store.data].filter(([key]) => /^\d:\d$/.test(key)))).toEqual(expected);
  });

  it('plans again from the stored offsets when the group coordinator refuses a commit of an ended generation', async () => {
    const kafka = twoPartitions(3);
    const warnings: string[] = [];
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t']),
      logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    const commit = setup.store.commit.bind(setup.store);
    setup.store.commit = async () => {
      setup.store.commit = commit;
      const refused = new KafkaError('commit offsets to the consumer group: Broker: Specified group generation id is not valid', {
        code: 22,
      });
      throw new OffsetStoreError('kafka', `could not commit to group g: ${refused.message}`, { cause: refused });
    };
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '0:2']);
    expect(input.offsetRanges(1000)).toEqual([]);
    expect(warnings.join('\n')).toMatch(/batch 1000 was not committed: the group coordinator refused it .*Planning from the stored offsets: t-0@0/);
    // At-least-once delivers the batch's records again, and commits them this time.
    expect(await runBatch(input, 2000)).toEqual(['0:0', '0:1', '0:2']);
    expect(await stored(setup.store, 0)).toEqual([3]);
  });

  it('plans at-least-once from the stored offset after a stale commit, delivering again what was not committed', async () => {
    const kafka = twoPartitions(4);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), logger: silentLogger });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    await fetchedToEnd(kafka);
    await input.generate(1000);
    // The previous owner committed past this batch's end.
    await setup.store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 6), expectedOffset: null }]);
    kafka.write('t', 0, 4);
    await fetchedToEnd(kafka);
    const seen: string[] = [];
    await input.runBatch(1000, async () => void seen.push(...(await input!.compute(1000)).map((r) => String(r.value))));
    expect(seen).toEqual(['0:0', '0:1', '0:2', '0:3']);
    expect(await runBatch(input, 2000)).toEqual(['0:6', '0:7']);
    expect(await stored(setup.store, 0)).toEqual([8]);
  });

  it('still stops on a stale commit of a job with state, whose state in memory counted the batch', async () => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), delivery: 'exactly-once' });
    input = setup.input;
    countingState(setup.context);
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    await input.generate(1000);
    await setup.store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 1), expectedOffset: null }]);
    const error = await input.runBatch(1000, async () => void (await input!.compute(1000))).catch((e: unknown) => e);
    expect((error as OffsetStoreError).cause).toBeInstanceOf(StaleOffsetError);
  });

  it.each([
    // Right after a topic gains partitions, before this member's metadata knows them.
    ['its metadata does not know yet', new KafkaError('query watermark offsets of t-1: Local: Unknown partition (librdkafka code -190)', { code: -190 })],
    // What a topic created a moment ago answers until its leader is known.
    [
      'whose leader is not elected yet',
      new KafkaError('query watermark offsets of t-1: Broker: Not leader for partition (librdkafka code 6)', { code: 6, retriable: true }),
    ],
  ])('asks again for the bounds of an assigned partition %s, instead of failing', async (_, refusal) => {
    const kafka = twoPartitions(2);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    const query = kafka.queryWatermarkOffsets.bind(kafka);
    let refusals = 2;
    kafka.queryWatermarkOffsets = async (p) => {
      if (p.partition === 1 && refusals-- > 0) throw refusal;
      return query(p);
    };
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    const started = input.start();
    await until(() => setup.clock.waiterCount > 0);
    await setup.clock.advance(500);
    await until(() => setup.clock.waiterCount > 0);
    await setup.clock.advance(500);
    await started;
    expect(kafka.calls).toContain('assign t-0@0,t-1@0');
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '1:0', '1:1']);
  });

  it('resumes a partition paused for read-ahead when it is revoked, so it is fetched again once assigned back', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 30);
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t']),
      maxBufferedRecordsPerPartition: 5,
      maxRatePerPartition: 8,
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    expect(await runBatch(input, 1000)).toHaveLength(8);
    await until(() => kafka.paused.has('t:0'));
    kafka.rebalance({ type: 'revoke', partitions: [{ topic: 't', partition: 0 }] });
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await until(() => kafka.calls.includes('assign t-0@8'));
    expect(kafka.paused.has('t:0')).toBe(false);
    expect(await runBatch(input, 2000)).toEqual(Array.from({ length: 8 }, (_, i) => `0:${8 + i}`));
  });

  it('resumes a partition that the client still holds paused when the group assigns it', async () => {
    const kafka = twoPartitions(3);
    // Paused by an earlier owner in this process (librdkafka keeps pauses across unassign/assign).
    kafka.paused.add('t:1');
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']) });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }] });
    await input.start();
    expect(kafka.paused.size).toBe(0);
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '0:2', '1:0', '1:1', '1:2']);
  });
});
