import {
  ConsumerStrategies,
  KafkaUtils,
  OffsetStoreError,
  StreamingContext,
  silentLogger,
} from '@dstream/core';
import type { ConsumerStrategy } from '@dstream/core';
import { KafkaOffsetStore, KafkaTransactionalSink } from '@dstream/offsets-kafka';
import { ensureTopic, produce, readTopic, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';

jest.setTimeout(120_000);

beforeAll(() => requireService('Kafka', services.kafkaBrokers));

/** A job copying each input record to `output` inside the batch's Kafka transaction; `failAfter` throws once that value was sent. */
function copyJob(settings: {
  input: string;
  output: string;
  group: string;
  transactionalId: string;
  strategy: ConsumerStrategy;
  failAfter?: string;
  producerParams?: Record<string, number>;
}) {
  const ssc = new StreamingContext({
    appName: uniqueName('kafka-tx'),
    batchIntervalMs: 200,
    stopOnSignals: false,
    logger: silentLogger,
  });
  const sink = new KafkaTransactionalSink({
    brokers: services.kafkaBrokers,
    transactionalId: settings.transactionalId,
    producerParams: settings.producerParams,
  });
  const stream = KafkaUtils.createDirectStream(ssc, {
    kafkaParams: { 'bootstrap.servers': services.kafkaBrokers, 'group.id': settings.group, 'session.timeout.ms': 6000 },
    strategy: settings.strategy,
    offsetStore: sink,
    delivery: 'exactly-once',
    startingOffsets: 'earliest',
    maxRatePerPartition: 500,
    keyDeserializer: 'string',
    valueDeserializer: 'string',
    connectTimeoutMs: 10_000,
    logger: silentLogger,
  });
  let committedRecords = 0;
  stream.foreachBatch(async (records, { transaction }) => {
    for (const record of records) {
      // Not awaited: the sink waits for every acknowledgement before it commits.
      const sent = transaction.send(settings.output, record.key, record.value);
      if (record.value === settings.failAfter) {
        // The record (and those before it) reach the broker before the batch fails.
        await sent;
        throw new Error(`output refused after ${record.value}`);
      }
    }
  });
  ssc.addStreamingListener({
    onBatchCompleted: ({ info }) => {
      if (info.failure === undefined) committedRecords += info.numRecords;
    },
  });
  return { ssc, sink, committed: () => committedRecords };
}

function inputValues(partitions: number, perPartition: number): string[] {
  return Array.from({ length: partitions }, (_, p) => Array.from({ length: perPartition }, (_, i) => `${p}:${i}`)).flat();
}

describe('KafkaTransactionalSink as the offset store of a direct stream', () => {
  it('writes each input record to the output exactly once across a batch that fails midway and a restart', async () => {
    const input = uniqueName('tx-in');
    const output = uniqueName('tx-out');
    const group = uniqueName('tx-group');
    await Promise.all([ensureTopic(input, 2), ensureTopic(output, 1)]);
    await produce(input, [0, 1], 500);
    const strategy = ConsumerStrategies.Assign([0, 1].map((partition) => ({ topic: input, partition })));
    const transactionalId = `${group}-0-1`;

    // First run: the batch holding 1:250 sends some records, then the output throws.
    const first = copyJob({ input, output, group, transactionalId, strategy, failAfter: '1:250' });
    await first.ssc.start();
    await expect(first.ssc.awaitTermination()).rejects.toThrow(/output refused after 1:250/);
    expect(first.committed()).toBeLessThan(1000);

    // Second run, same transactional.id: resumes from the group's committed offsets.
    const second = copyJob({ input, output, group, transactionalId, strategy });
    await second.ssc.start();
    try {
      await waitFor(() => second.committed() + first.committed() >= 1000, 60_000, 'all 1000 records committed');
    } finally {
      await second.ssc.stop({ graceful: true });
    }

    const committed = await readTopic(output, 1, 'read_committed');
    expect(committed.slice().sort()).toEqual(inputValues(2, 500).sort());
    // The aborted batch's records did reach the log: only read_committed hides them.
    const everything = await readTopic(output, 1, 'read_uncommitted');
    expect(everything.length).toBeGreaterThan(committed.length);
    expect(everything).toContain('1:250');

    const stored = new KafkaOffsetStore({ brokers: services.kafkaBrokers });
    await stored.connect();
    try {
      const loaded = await stored.load(group, [0, 1].map((partition) => ({ topic: input, partition })));
      expect([...loaded].sort()).toEqual([
        [`${input}:0`, 500],
        [`${input}:1`, 500],
      ]);
    } finally {
      await stored.close();
    }
  });

  it('stops a copy whose transactional.id a newer copy took over, with a non-retriable error and nothing committed', async () => {
    const input = uniqueName('tx-in');
    const output = uniqueName('tx-out');
    const group = uniqueName('tx-group');
    await Promise.all([ensureTopic(input, 1), ensureTopic(output, 1)]);
    const strategy = ConsumerStrategies.Assign([{ topic: input, partition: 0 }]);
    const transactionalId = `${group}-0`;

    const zombie = copyJob({ input, output, group, transactionalId, strategy });
    await zombie.ssc.start();
    // A second producer with the same id fences the first one (its epoch is now stale).
    const usurper = new KafkaTransactionalSink({ brokers: services.kafkaBrokers, transactionalId });
    await usurper.connect({
      kafka: { groupId: group, groupMetadata: { groupId: group }, committed: async () => new Map(), commit: async () => undefined },
    });
    await produce(input, [0], 10);

    const termination = zombie.ssc.awaitTermination();
    await expect(termination).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(termination).rejects.toMatchObject({ retriable: false });
    await expect(termination).rejects.toThrow(/fenced/);
    await usurper.close();
    expect(await readTopic(output, 1, 'read_committed')).toEqual([]);
  });

  it('sends a batch larger than the client queue in order, waiting for room instead of failing', async () => {
    const input = uniqueName('tx-in');
    const output = uniqueName('tx-out');
    const group = uniqueName('tx-group');
    await Promise.all([ensureTopic(input, 1), ensureTopic(output, 1)]);
    await produce(input, [0], 400);
    const job = copyJob({
      input,
      output,
      group,
      transactionalId: `${group}-0`,
      strategy: ConsumerStrategies.Assign([{ topic: input, partition: 0 }]),
      // About 100 records per batch against a queue of 20: most sends wait for delivery reports.
      producerParams: { 'queue.buffering.max.messages': 20 },
    });
    await job.ssc.start();
    try {
      await waitFor(() => job.committed() >= 400, 60_000, 'all 400 records committed');
    } finally {
      await job.ssc.stop({ graceful: true });
    }
    expect(await readTopic(output, 1)).toEqual(inputValues(1, 400));
  });
});
