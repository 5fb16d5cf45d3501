import { ConsumerStrategies, KafkaUtils, StreamingContext } from '@dstream/core';
import type { TopicPartition } from '@dstream/core';
import { KafkaTransactionalSink } from '@dstream/offsets-kafka';

/** Where the job reads and writes. */
export interface UpperCaseSettings {
  readonly brokers: string;
  readonly partitions: readonly TopicPartition[];
  readonly output: string;
  readonly group: string;
  /** Makes the output throw after sending this value, to show that a failed batch leaves no trace. */
  readonly failAfter?: string;
  /** Where records the job cannot handle (values starting with "!") are set aside, in the batch's transaction. */
  readonly deadLetterTopic: string;
}

/**
 * Copies every record of `partitions` to `output`, upper-cased, exactly once: each batch's records
 * are sent in a Kafka transaction that also commits the batch's offsets to `group`. A batch that
 * fails is aborted, its records invisible to `read_committed` readers and its offsets unmoved;
 * the restarted job redoes it. The transactional.id is derived from the group and the partitions,
 * stable across restarts, so a restarted copy fences the one it replaces.
 *
 * @example
 * const ssc = upperCaseJob({ brokers: '127.0.0.1:9092', partitions: [{ topic: 'words', partition: 0 }], output: 'WORDS', group: 'upper' });
 * await ssc.start();
 */
export function upperCaseJob(settings: UpperCaseSettings): StreamingContext {
  const ssc = new StreamingContext({ appName: 'kafka-upper-case', batchIntervalMs: 500 });
  const partitionSet = settings.partitions.map((p) => `${p.topic}-${p.partition}`).join(',');

  const words = KafkaUtils.createDirectStream(ssc, {
    kafkaParams: { 'bootstrap.servers': settings.brokers, 'group.id': settings.group },
    strategy: ConsumerStrategies.Assign(settings.partitions),
    offsetStore: new KafkaTransactionalSink({
      brokers: settings.brokers,
      transactionalId: `${settings.group}:${partitionSet}`,
      deadLetterTopic: settings.deadLetterTopic,
    }),
    delivery: 'exactly-once',
    // A record that makes the map below throw twice is produced to deadLetterTopic in the batch's
    // transaction, and the batch goes on without it.
    recordErrors: { policy: 'dead-letter', maxAttempts: 2 },
    startingOffsets: 'earliest',
    // Bounds each batch (here 100 records per partition per 500 ms); raise it for real traffic.
    maxRatePerPartition: 200,
    keyDeserializer: 'string',
    valueDeserializer: 'string',
  });

  const checked = words.map((record) => {
    if (record.value.startsWith('!')) throw new Error(`malformed word ${record.value}`);
    return record;
  });

  checked.foreachBatch(async (records, { transaction }) => {
    for (const record of records) {
      const sent = transaction.send(settings.output, record.key, record.value.toUpperCase());
      if (record.value === settings.failAfter) {
        await sent;
        throw new Error(`refusing to go on after ${record.value} (on purpose)`);
      }
    }
  });

  return ssc;
}
