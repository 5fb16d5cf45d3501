import { KafkaError, OffsetOutOfRangeError, OffsetStoreError } from '../errors';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { OffsetRange } from '../offsets/OffsetRange';
import type { BatchInfo } from '../scheduler/events';
import { ConsumerStrategies } from './ConsumerStrategies';
import { DirectKafkaInputDStream } from './DirectKafkaInputDStream';
import {
  FakeKafka,
  fetchedToEnd,
  runBatch,
  setUp,
  stored,
  twoPartitions,
  until,
} from './directStreamTestKit';

describe('DirectKafkaInputDStream', () => {
  let input: DirectKafkaInputDStream<string | null, string | null> | undefined;
  afterEach(async () => {
    await input?.stop();
    input = undefined;
  });

  it('forces auto-commit off and partition end events on in the consumer it creates', async () => {
    const kafka = twoPartitions();
    ({ input } = setUp(kafka));
    await input.start();
    expect(kafka.config).toMatchObject({
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'enable.partition.eof': true,
      'auto.offset.reset': 'error',
    });
  });

  it('plans one range per partition from the previous until to the log end, and the ranges tile the log', async () => {
    const kafka = twoPartitions(3);
    const setup = setUp(kafka);
    input = setup.input;
    await input.start();
    expect(await runBatch(input, 1000)).toEqual(['0:0', '0:1', '0:2', '1:0', '1:1', '1:2']);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 3)', 't-1 [0, 3)']);
    kafka.write('t', 1, 2);
    await fetchedToEnd(kafka);
    expect(await runBatch(input, 2000)).toEqual(['1:3', '1:4']);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [3, 3)', 't-1 [3, 5)']);
    expect(input.recordCount(2000)).toBe(2);
    expect(await stored(setup.store, 0, 1)).toEqual([3, 5]);
  });

  it('caps each range at maxRatePerPartition times the batch interval', async () => {
    const kafka = twoPartitions(10);
    ({ input } = setUp(kafka, { maxRatePerPartition: 4 }));
    await input.start();
    await runBatch(input, 1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 4)', 't-1 [0, 4)']);
    await runBatch(input, 2000);
    expect(input.offsetRanges(2000).map(String)).toEqual(['t-0 [4, 8)', 't-1 [4, 8)']);
  });

  it('bounds the first batch by backpressure.initialRate, split between partitions by lag', async () => {
    const kafka = new FakeKafka();
    kafka.write('t', 0, 30);
    kafka.write('t', 1, 10);
    ({ input } = setUp(kafka, { backpressure: { enabled: true, initialRate: 8 } }));
    await input.start();
    await input.generate(1000);
    expect(input.offsetRanges(1000).map(String)).toEqual(['t-0 [0, 6)', 't-1 [0, 2)']);
  });

  it('lowers the batch size after batches report slow processing', async () => {
    const kafka = twoPartitions(100_000);
    ({ input } = setUp(kafka, { backpressure: { enabled: true, initialRate: 10_000, pid: { minRate: 10 } } }));
    await input.start();
    const info = (time: number, numRecords: number, processingDelayMs: number): BatchInfo => ({
      batchTimeMs: time,
      offsetRanges: [],
      numRecords,
      numDeadLetters: 0,
      numAttempts: 1,
      submissionTimeMs: time,
      processingStartTimeMs: time,
      processingEndTimeMs: time + processingDelayMs,
      schedulingDelayMs: 0,
      processingDelayMs,
      totalDelayMs: processingDelayMs,
      failure: undefined,
    });
    // 10,000 records took 1 s, then 10,000 took 4 s: the controller settles on 2,500 records/s.
    input.onBatchCompleted(info(1000, 10_000, 1000));
    input.onBatchCompleted(info(3000, 10_000, 4000));
    await input.generate(5000);
    const total = input.offsetRanges(5000).reduce((sum, r) => sum + r.count, 0);
    expect(total).toBe(2500);
  });

  it('starts from stored offsets ahead of explicit and starting offsets', async () => {
    const kafka = twoPartitions(5);
    const store = new InMemoryOffsetStore();
    await store.commit('g', [
      { range: OffsetRange.create('t', 0, 0, 4), expectedOffset: null },
    ]);
    ({ input } = setUp(kafka, {
      offsetStore: store,
      strategy: ConsumerStrategies.Assign(
        [
          { topic: 't', partition: 0 },
          { topic: 't', partition: 1 },
        ],
        [
          { topic: 't', partition: 0, offset: 1 },
          { topic: 't', partition: 1, offset: 2 },
        ],
      ),
      startingOffsets: 'latest',
    }));
    await input.start();
    expect(kafka.calls).toContain('assign t-0@4,t-1@2');
    expect(await runBatch(input, 1000)).toEqual(['0:4', '1:2', '1:3', '1:4']);
  });

  it("fails at start, before assigning anything, when a stored offset is outside the log and the policy is 'fail'", async () => {
    const kafka = twoPartitions(5);
    kafka.log('t', 0).low = 3;
    const store = new InMemoryOffsetStore();
    
    await store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 1), expectedOffset: null }]);
    ({ input } = setUp(kafka, { offsetStore: store }));
    await expect(input.start()).rejects.toThrow(OffsetOutOfRangeError);
    expect(kafka.calls.some((call) => call.startsWith('assign'))).toBe(false);
    expect(kafka.calls).toContain('disconnect');
  });

  it("resets an out-of-range stored offset to the log start with 'earliest' and still commits against the stored value", async () => {
    const kafka = twoPartitions(5);
    kafka.log('t', 0).low = 3;
    const store = new InMemoryOffsetStore();
    
    await store.commit('g', [{ range: OffsetRange.create('t', 0, 0, 1), expectedOffset: null }]);
    ({ input } = setUp(kafka, { offsetStore: store, offsetOutOfRange: 'earliest' }));
    await input.start();
    expect(await runBatch(input, 1000)).toEqual(['0:3', '0:4', '1:0', '1:1', '1:2', '1:3', '1:4']);
    expect(await stored(store, 0, 1)).toEqual([5, 5]);
  });

  it('refuses at start to subscribe to a topic the cluster does not have, naming it and the fix', async () => {
    const kafka = twoPartitions(1);
    kafka.write('events', 0, 1);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t', 'event']) });
    input = setup.input;
    const started = input.start();
    await expect(started).rejects.toThrow(KafkaError);
    await expect(started).rejects.toThrow(
      "ConsumerStrategies.Subscribe names a topic the cluster at fake:9092 does not have: event. Create it " +
        "(e.g. kafka-topics --create --topic event --partitions 4), or check the name (did you mean 'events' for 'event'?). " +
        "To have the broker create it on subscription, set kafkaParams 'allow.auto.create.topics': true.",
    );
    expect(kafka.calls.some((call) => call.startsWith('subscribe'))).toBe(false);
  });

  it('subscribes to a missing topic when the job asked for topics to be created on subscription', async () => {
    const kafka = twoPartitions(1);
    const setup = setUp(kafka, {
      strategy: ConsumerStrategies.Subscribe(['t', 'later']),
      kafkaParams: { 'bootstrap.servers': 'fake:9092', 'group.id': 'g', 'allow.auto.create.topics': true },
    });
    input = setup.input;
    kafka.rebalance({ type: 'assign', partitions: [{ topic: 't', partition: 0 }] });
    await input.start();
    expect(kafka.calls).toContain('subscribe t,later');
  });

  it('gives up waiting for the first assignment after connectTimeoutMs plus the session timeout on the context clock', async () => {
    const kafka = twoPartitions(1);
    const setup = setUp(kafka, { strategy: ConsumerStrategies.Subscribe(['t']), connectTimeoutMs: 1000 });
    input = setup.input;
    let failure: unknown;
    const started = input.start().catch((error: unknown) => (failure = error));
    await until(() => kafka.calls.includes('subscribe t'));
    await setup.clock.advance(10_999);
    expect(failure).toBeUndefined();
    await setup.clock.advance(1);
    await started;
    expect(failure).toBeInstanceOf(KafkaError);
    expect((failure as KafkaError).message).toMatch(/^no partition assignment from group g at fake:9092 within 11000 ms/);
  });

  it('closes the store and the consumer when it stops', async () => {
    const kafka = twoPartitions(1);
    const setup = setUp(kafka);
    input = setup.input;
    const close = jest.spyOn(setup.store, 'close');
    await input.start();
    await input.stop();
    expect(close).toHaveBeenCalledTimes(1);
    expect(kafka.calls).toContain('disconnect');
  });

  it('fails to start with a clear error and consumes nothing when the store cannot connect', async () => {
    const kafka = twoPartitions(1);
    const store = new InMemoryOffsetStore();
    store.connect = async () => {
      throw new OffsetStoreError('memory', 'refused', { retriable: true });
    };
    ({ input } = setUp(kafka, { offsetStore: store }));
    await expect(input.start()).rejects.toThrow(/offset store memory: refused/);
    expect(kafka.calls.some((call) => call.startsWith('assign'))).toBe(false);
  });
});
