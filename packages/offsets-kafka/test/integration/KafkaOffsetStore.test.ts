import {
  ConsumerStrategies,
  KafkaUtils,
  OffsetRange,
  type OffsetStoreBinding,
  OffsetStoreError,
  StaleOffsetError,
  StreamingContext,
  silentLogger,
} from '@dstream/core';
import { describeOffsetStoreContract } from '@dstream/core/testing';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';
import * as Kafka from 'node-rdkafka';
import { describeGroup, ensureTopic, produce, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';

// The group coordinator rejects offsets of topics the cluster does not have: the contract suite's
// topics (orders 0-1, payments 0-3, payments.v2 0) must exist on the broker.
beforeAll(async () => {
  await requireService('Kafka', services.kafkaBrokers);
  await Promise.all([ensureTopic('orders', 2), ensureTopic('payments', 4), ensureTopic('payments.v2', 1)]);
}, 120_000);

async function standalone(): Promise<KafkaOffsetStore> {
  const store = new KafkaOffsetStore({ brokers: services.kafkaBrokers });
  await store.connect();
  return store;
}

describeOffsetStoreContract('KafkaOffsetStore (standalone)', { create: standalone }, { describe, it, expect });

describe('KafkaOffsetStore in standalone mode', () => {
  it('wraps an unknown topic rejected by the group coordinator in a non-retriable OffsetStoreError', async () => {
    const store = await standalone();
    try {
      const rejection = store.commit(uniqueName('group'), [
        { range: OffsetRange.create(uniqueName('no-such-topic'), 0, 0, 5), expectedOffset: null },
      ]);
      await expect(rejection).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(rejection).rejects.toMatchObject({ retriable: false, cause: { name: 'KafkaError', code: 3 } });
    } finally {
      await store.close();
    }
  });

  it('is refused by the broker while the group has an active member, and changes nothing', async () => {
    const group = uniqueName('group');
    const store = await standalone();
    await store.commit(group, [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }]);
    const member = new Kafka.KafkaConsumer(
      { 'bootstrap.servers': services.kafkaBrokers, 'group.id': group, 'session.timeout.ms': 6000 },
      {},
    );
    await new Promise<void>((resolve, reject) => member.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())));
    try {
      member.subscribe(['orders']);
      member.setDefaultConsumeTimeout(200);
      // The member joins (and is handed partitions) inside consume calls.
      const deadline = Date.now() + 30_000;
      while (member.assignments().length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => member.consume(1, () => resolve(undefined)));
      }
      expect(member.assignments().length).toBeGreaterThan(0);

      const rejection = store.commit(group, [{ range: OffsetRange.create('orders', 0, 10, 20), expectedOffset: 10 }]);
      await expect(rejection).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(rejection).rejects.not.toBeInstanceOf(StaleOffsetError);
      // 25: UNKNOWN_MEMBER_ID, the broker's answer to a commit from outside an active group.
      await expect(rejection).rejects.toMatchObject({ cause: { code: 25 } });
      expect((await store.load(group, [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(10);
    } finally {
      await new Promise<void>((resolve) => member.disconnect(() => resolve()));
      await store.close();
    }
  });
});

/**
 * A KafkaOffsetStore that notes, for each commit it sends through the stream's consumer, whether
 * the event loop turned (a `setImmediate` ran) before the commit was answered.
 */
class LoopWatchingStore extends KafkaOffsetStore {
  readonly loopTurned: boolean[] = [];

  override connect(binding?: OffsetStoreBinding): Promise<void> {
    const kafka = binding?.kafka;
    if (kafka === undefined) return super.connect(binding);
    return super.connect({
      ...binding,
      kafka: {
        ...kafka,
        commit: async (offsets) => {
          let hasTurned = false;
          setImmediate(() => (hasTurned = true));
          await kafka.commit(offsets);
          this.loopTurned.push(hasTurned);
        },
      },
    });
  }
}

/** A Subscribe job on `topic` in `group` with a KafkaOffsetStore; its output records each value it sees, after `gate`. */
function groupJob(topic: string, group: string, gate: () => Promise<void> = async () => undefined, store = new KafkaOffsetStore()) {
  const ssc = new StreamingContext({ appName: uniqueName('kafka-group'), batchIntervalMs: 200, stopOnSignals: false, logger: silentLogger });
  const stream = KafkaUtils.createDirectStream<string | null, string | null>(ssc, {
    kafkaParams: { 'bootstrap.servers': services.kafkaBrokers, 'group.id': group, 'session.timeout.ms': 6000 },
    strategy: ConsumerStrategies.Subscribe([topic]),
    offsetStore: store,
    startingOffsets: 'earliest',
    valueDeserializer: 'string',
    connectTimeoutMs: 10_000,
    logger: silentLogger,
  });
  const seen: string[] = [];
  let inOutput = 0;
  stream.foreachBatch(async (records) => {
    if (records.length === 0) return;
    inOutput += 1;
    await gate();
    for (const record of records) seen.push(String(record.value));
  });
  return { ssc, seen, isInOutput: () => inOutput > 0 };
}

describe('KafkaOffsetStore used by a Kafka direct stream', () => {
  jest.setTimeout(120_000);

  it('commits the batch in flight at a graceful stop, so the group shows lag 0', async () => {
    const topic = uniqueName('group-stop');
    const group = uniqueName('group');
    await ensureTopic(topic, 2);
    await produce(topic, [0, 1], 100);
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const job = groupJob(topic, group, () => opened);
    await job.ssc.start();

    // Stop while the batch's output is still running: the stop must wait for it and commit it.
    await waitFor(() => job.isInOutput(), 60_000, 'a batch in its output');
    const stopping = job.ssc.stop({ graceful: true });
    open();
    await stopping;

    // Whatever the job read, up to the stop, is exactly what the group's offsets say it read.
    const rows = await describeGroup(group);
    for (const partition of [0, 1]) {
      const read = job.seen.filter((value) => value.startsWith(`${partition}:`));
      expect(read).toEqual(Array.from({ length: read.length }, (_, i) => `${partition}:${i}`));
      expect(rows.get(`${topic}:${partition}`)).toEqual({ offset: read.length, lag: 100 - read.length });
    }
    expect(job.seen.length).toBeGreaterThan(0);
  });

  it("commits through the stream's consumer without holding the event loop until the coordinator answers", async () => {
    const topic = uniqueName('group-async-commit');
    const group = uniqueName('group');
    await ensureTopic(topic, 2);
    await produce(topic, [0, 1], 100);
    const store = new LoopWatchingStore();
    const job = groupJob(topic, group, async () => undefined, store);
    await job.ssc.start();
    try {
      await waitFor(() => job.seen.length >= 200, 60_000, 'all 200 records');
      await waitFor(() => store.loopTurned.length >= 3, 60_000, 'three commits');
    } finally {
      await job.ssc.stop({ graceful: true });
    }
    // While the fetch loop consumes, a commit waits for its answer asynchronously: the event loop
    // runs meanwhile. (A commit sent in the instant between two consume calls is synchronous.)
    expect(store.loopTurned.filter(Boolean).length).toBeGreaterThan(0);
    expect([...(await describeGroup(group))].sort()).toEqual([
      [`${topic}:0`, { offset: 100, lag: 0 }],
      [`${topic}:1`, { offset: 100, lag: 0 }],
    ]);
  });

  it('leaves lag 0 after a graceful stop once everything was read', async () => {
    const topic = uniqueName('group-lag');
    const group = uniqueName('group');
    await ensureTopic(topic, 2);
    await produce(topic, [0, 1], 100);
    const job = groupJob(topic, group);
    await job.ssc.start();
    try {
      await waitFor(() => job.seen.length >= 200, 60_000, 'all 200 records');
    } finally {
      await job.ssc.stop({ graceful: true });
    }
    expect([...(await describeGroup(group))].sort()).toEqual([
      [`${topic}:0`, { offset: 100, lag: 0 }],
      [`${topic}:1`, { offset: 100, lag: 0 }],
    ]);
  });

  it('hands partitions to a member that joins at the offsets the first member committed', async () => {
    const topic = uniqueName('group-rebalance');
    const group = uniqueName('group');
    await ensureTopic(topic, 2);
    await produce(topic, [0, 1], 100);
    const first = groupJob(topic, group);
    await first.ssc.start();
    const second = groupJob(topic, group);
    try {
      await waitFor(() => first.seen.length >= 200, 60_000, 'the first member to read 200 records');
      // The second member's arrival revokes the first member's partitions and splits them.
      await second.ssc.start();
      await produce(topic, [0, 1], 100, 100);
      await waitFor(() => first.seen.length + second.seen.length >= 400, 60_000, 'both members to read 400 records');
    } finally {
      await Promise.all([first.ssc.stop({ graceful: true }), second.ssc.stop({ graceful: true })]);
    }

    const all = [...first.seen, ...second.seen];
    expect(all.slice().sort()).toEqual(
      [0, 1].flatMap((p) => Array.from({ length: 200 }, (_, i) => `${p}:${i}`)).sort(),
    );
    // The newcomer resumed where the group's offsets stood: it read none of the first 100 per partition.
    expect(second.seen.filter((value) => Number(value.split(':')[1]) < 100)).toEqual([]);
    expect(second.seen.length).toBeGreaterThan(0);
  });
});
