import { KafkaUtils, StreamingContext, ConsumerStrategies, silentLogger } from '@dstream/core';
import type { BatchInfo, DeadLetter, OffsetStore } from '@dstream/core';
import { produce } from '../records';
import { services } from '../services';
import { createTopic } from '../topics';
import { uniqueName } from '../uniqueName';
import { waitFor } from '../waitFor';

/** What one run of `runPoisonJob` saw. */
export interface PoisonJobResult {
  readonly group: string;
  readonly infos: readonly BatchInfo[];
  /** The dead letters the store kept for the job's group. */
  readonly deadLetters: readonly DeadLetter[];
}

/**
 * Runs an exactly-once job in this process over a new 2-partition topic of `perPartition`
 * records each (`<partition>:<n>`), whose `map` throws on the records `isPoison` picks, under
 * `recordErrors: { policy: 'dead-letter', maxAttempts: 2 }`. `write` puts each surviving record
 * id through the batch's transaction. Stops once the store holds offsets at the topic's end.
 * `createStore` is called twice: for the job (which closes it when it stops), then to read.
 */
export async function runPoisonJob(
  createStore: () => OffsetStore,
  perPartition: number,
  isPoison: (id: string) => boolean,
  write: (transaction: unknown, ids: readonly string[]) => Promise<void> | void,
): Promise<PoisonJobResult> {
  const topic = uniqueName('dead-letters');
  const group = uniqueName('dead-letters');
  await createTopic(topic, 2);
  await produce(topic, [0, 1], perPartition);
  const store = createStore();
  const ssc = new StreamingContext({ appName: group, batchIntervalMs: 300, stopOnSignals: false, logger: silentLogger });
  const partitions = [0, 1].map((partition) => ({ topic, partition }));
  KafkaUtils.createDirectStream<string | null, string>(ssc, {
    kafkaParams: { 'bootstrap.servers': services.kafkaBrokers, 'group.id': group },
    strategy: ConsumerStrategies.Assign(partitions),
    offsetStore: store,
    delivery: 'exactly-once',
    startingOffsets: 'earliest',
    valueDeserializer: 'string',
    maxRatePerPartition: Math.ceil(perPartition / 2),
    recordErrors: { policy: 'dead-letter', maxAttempts: 2 },
    logger: silentLogger,
  })
    .map((record) => {
      if (isPoison(record.value)) throw new Error(`poison record ${record.value}`);
      return record.value;
    })
    .foreachBatch((ids, batch) => write(batch.transaction, ids));
  const infos: BatchInfo[] = [];
  ssc.addStreamingListener({ onBatchCompleted: ({ info }) => void infos.push(info) });
  await ssc.start();
  try {
    await waitFor(
      async () => {
        if (infos.some((info) => info.failure !== undefined)) return true;
        const stored = await store.load(group, partitions).catch(() => new Map<string, number>());
        return [...stored.values()].reduce((sum, offset) => sum + offset, 0) === 2 * perPartition;
      },
      60_000,
      `offsets at the end of ${topic}`,
    );
  } finally {
    await ssc.stop({ graceful: true });
    await ssc.awaitTermination().catch(() => undefined);
  }
  const failed = infos.find((info) => info.failure !== undefined);
  if (failed !== undefined) throw failed.failure;
  const reader = createStore();
  await reader.connect();
  try {
    return { group, infos, deadLetters: await reader.loadDeadLetters!(group) };
  } finally {
    await reader.close();
  }
}
