import { ConsumerStrategies, KafkaUtils, StateSpec, StreamingContext, silentLogger, type Logger, type State } from '@dstream/core';
import { KafkaTransactionalSink } from '@dstream/offsets-kafka';
import { ensureTopic, produce, readTopic, requireService, services, uniqueName, waitFor } from '@dstream/test-utils';

jest.setTimeout(120_000);

beforeAll(() => requireService('Kafka', services.kafkaBrokers));

const PARTITIONS = 2;
const USERS = 5;

/**
 * A running count per user (`u<n % USERS>` for record `<partition>:<n>`) with mapWithState,
 * exactly-once through the sink with a state topic; each batch writes `<user>=<count>` to `output`.
 */
function countingJob(settings: { input: string; output: string; group: string; stateTopic: string }, logger: Logger) {
  const ssc = new StreamingContext({ appName: uniqueName('sink-state'), batchIntervalMs: 200, stopOnSignals: false, logger: silentLogger });
  const sink = new KafkaTransactionalSink({
    brokers: services.kafkaBrokers,
    transactionalId: `${settings.group}-tx`,
    stateTopic: settings.stateTopic,
  });
  const stream = KafkaUtils.createDirectStream(ssc, {
    kafkaParams: { 'bootstrap.servers': services.kafkaBrokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: settings.input, partition }))),
    offsetStore: sink,
    delivery: 'exactly-once',
    startingOffsets: 'earliest',
    maxRatePerPartition: 500,
    valueDeserializer: 'string',
    logger,
  });
  let committed = 0;
  stream
    .map((record) => [`u${Number(record.value.split(':')[1]) % USERS}`, 1] as const)
    .mapWithState(
      StateSpec.function((user: string, one: number | undefined, state: State<number>) => {
        state.update((state.getOption() ?? 0) + (one ?? 0));
        return [user, state.get()] as const;
      }).name('counts'),
    )
    .foreachBatch(async (pairs, { transaction }) => {
      for (const [user, count] of new Map(pairs)) void transaction.send(settings.output, user, `${user}=${count}`);
    });
  ssc.addStreamingListener({ onBatchCompleted: ({ info }) => void (info.failure === undefined && (committed += info.numRecords)) });
  return { ssc, committed: () => committed };
}

describe('KafkaTransactionalSink with a stateTopic', () => {
  it('restores mapWithState counts from the state topic after a restart, so every count equals the records produced', async () => {
    const settings = { input: uniqueName('state-in'), output: uniqueName('state-out'), group: uniqueName('state-group'), stateTopic: uniqueName('state') };
    await Promise.all([ensureTopic(settings.input, PARTITIONS), ensureTopic(settings.output, 1)]);
    await produce(settings.input, [0, 1], 100);

    const first = countingJob(settings, silentLogger);
    await first.ssc.start();
    try {
      await waitFor(() => first.committed() >= 200, 60_000, 'the first run to commit 200 records');
    } finally {
      await first.ssc.stop({ graceful: true });
    }

    await produce(settings.input, [0, 1], 50, 100);
    const restored: string[] = [];
    const logger: Logger = { ...silentLogger, info: (message) => void (message.includes('restored the state') && restored.push(message)) };
    const second = countingJob(settings, logger);
    await second.ssc.start();
    try {
      await waitFor(() => second.committed() >= 100, 60_000, 'the second run to commit the 100 new records');
    } finally {
      await second.ssc.stop({ graceful: true });
    }

    expect(restored).toEqual([expect.stringMatching(/restored the state of 1 operator\(s\), 5 entries, from kafka-transactional/)]);
    // The last count written per user, read as a consumer of the output would.
    const last = new Map<string, number>();
    for (const value of await readTopic(settings.output, 1)) {
      const [user, count] = value.split('=');
      last.set(user, Number(count));
    }
    const expected = new Map<string, number>();
    for (let n = 0; n < 150; n++) expected.set(`u${n % USERS}`, (expected.get(`u${n % USERS}`) ?? 0) + PARTITIONS);
    expect(last).toEqual(expected);
  });
});
