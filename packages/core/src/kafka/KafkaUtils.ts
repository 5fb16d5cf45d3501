import type { StreamingContextLike } from '../context/types';
import { DStream } from '../dstream/DStream';
import type { Clock } from '../util/Clock';
import { DirectKafkaInputDStream, KafkaConsumerFactory } from './DirectKafkaInputDStream';
import type { ConsumerRecord, DirectStreamOptions } from './DirectStreamOptions';
import { resolveDirectStreamOptions } from './DirectStreamOptions';
import { createKafkaConsumer } from './KafkaClient';
import { observeCommits } from '../offsets/observeCommits';
import { consoleLogger, withFields } from '../util/Logger';

/**
 * Creates a direct stream for a context with a chosen client factory; `KafkaUtils` passes the
 * librdkafka one, unit tests a fake.
 */
export function createDirectStreamWith<K, V>(
  ssc: StreamingContextLike & { readonly clock?: Clock },
  options: DirectStreamOptions<K, V>,
  createConsumer: KafkaConsumerFactory,
): DStream<ConsumerRecord<K, V>> {
  const checked = resolveDirectStreamOptions(options);
  // Both refer to the input, which needs the resolved options to exist: read only once it does.
  let input: DirectKafkaInputDStream<K, V> | undefined;
  const resolved = {
    ...checked,
    logger: options.logger ?? withFields(ssc.logger ?? consoleLogger, () => ({ stream: input?.name })),
    offsetStore: observeCommits(checked.offsetStore, (commit) =>
      ssc.postInputEvent?.({ type: 'OffsetCommitCompleted', input: input?.name ?? '', ...commit }),
    ),
  };
  input = new DirectKafkaInputDStream<K, V>(ssc, resolved, createConsumer);
  const stream = new DStream<ConsumerRecord<K, V>>(ssc, input);
  ssc.registerInput(input);
  return stream;
}

/**
 * Entry points for reading Kafka (Spark's `KafkaUtils`).
 *
 * @example
 * const stream = KafkaUtils.createDirectStream<string, string>(ssc, {
 *   kafkaParams: { 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'word-count' },
 *   strategy: ConsumerStrategies.Subscribe(['words']),
 *   offsetStore: new InMemoryOffsetStore(),
 *   startingOffsets: 'earliest',
 *   valueDeserializer: 'string',
 * });
 * stream.foreachBatch(async (records, batch) => console.log(batch.offsetRanges.map(String)));
 */
export const KafkaUtils = {
  /**
   * A stream with one batch per interval holding, for each partition, the records of one
   * `OffsetRange` (see `DirectKafkaInputDStream`). Every option is checked here, before anything
   * connects: a bad one throws `ConfigError`. Connections open when the context starts.
   */
  createDirectStream<K = Buffer | null, V = Buffer | null>(
    ssc: StreamingContextLike & { readonly clock?: Clock },
    options: DirectStreamOptions<K, V>,
  ): DStream<ConsumerRecord<K, V>> {
    return createDirectStreamWith(ssc, options, createKafkaConsumer);
  },
} as const;
