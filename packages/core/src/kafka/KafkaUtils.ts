import type { StreamingContextLike } from '../context/types';
import { DStream } from '../dstream/DStream';
import type { Clock } from '../util/Clock';
import { DirectKafkaInputDStream, KafkaConsumerFactory } from './DirectKafkaInputDStream';
import type { AnyDirectStreamOptions, BatchTransaction, KeyOf, ValueOf } from './BatchTransaction';
import type { ConsumerRecord, DirectStreamOptions } from './DirectStreamOptions';
import { resolveDirectStreamOptions } from './DirectStreamOptions';
import { createKafkaConsumer } from './KafkaClient';
import { observeCommits } from '../offsets/observeCommits';
import { consoleLogger, withFields } from '../util/Logger';

/**
 * Creates a direct stream for a context with a chosen client factory; `KafkaUtils` passes the
 * librdkafka one, unit tests a fake.
 */
export function createDirectStreamWith<K, V, Tx = unknown>(
  ssc: StreamingContextLike & { readonly clock?: Clock },
  options: DirectStreamOptions<K, V>,
  createConsumer: KafkaConsumerFactory,
): DStream<ConsumerRecord<K, V>, Tx> {
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
  const stream = new DStream<ConsumerRecord<K, V>, Tx>(ssc, input);
  ssc.registerInput(input);
  return stream;
}

/**
 * Entry points for reading Kafka (Spark's `KafkaUtils`).
 *
 * @example
 * const stream = KafkaUtils.createDirectStream(ssc, {
 *   kafkaParams: { 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'word-count' },
 *   strategy: ConsumerStrategies.Subscribe(['words']),
 *   offsetStore: new PostgresOffsetStore({ connectionString }),
 *   delivery: 'exactly-once',
 *   startingOffsets: 'earliest',
 *   valueDeserializer: 'string',
 * });
 * // records: ConsumerRecord<Buffer | null, string>; batch.transaction: PoolClient
 * stream.foreachBatch(async (records, batch) => {
 *   for (const record of records) await batch.transaction.query('INSERT INTO words (word) VALUES ($1)', [record.value]);
 * });
 */
export const KafkaUtils = {
  createDirectStream,
} as const;

/**
 * A stream with one batch per interval holding, for each partition, the records of one
 * `OffsetRange` (see `DirectKafkaInputDStream`). Every option is checked here, before anything
 * connects: a bad one throws `ConfigError`. Connections open when the context starts.
 *
 * Without type arguments, the key and value types follow from the deserializers (`'string'`:
 * string, `'json'`: unknown, a function: what it returns, none: `Buffer | null`) and the outputs'
 * `batch.transaction` from `offsetStore` and `delivery` (see `BatchTransaction`): the store's
 * transaction under exactly-once, `undefined` otherwise. Explicit key and value types
 * (`createDirectStream<K, V>(…)`) leave the transaction `unknown`.
 */
function createDirectStream<const O extends AnyDirectStreamOptions>(
  ssc: StreamingContextLike & { readonly clock?: Clock },
  options: O,
): DStream<ConsumerRecord<KeyOf<O>, ValueOf<O>>, BatchTransaction<O>>;
function createDirectStream<K = Buffer | null, V = Buffer | null>(
  ssc: StreamingContextLike & { readonly clock?: Clock },
  options: DirectStreamOptions<K, V>,
): DStream<ConsumerRecord<K, V>>;
function createDirectStream(
  ssc: StreamingContextLike & { readonly clock?: Clock },
  options: DirectStreamOptions<unknown, unknown>,
): DStream<ConsumerRecord<unknown, unknown>> {
  return createDirectStreamWith(ssc, options, createKafkaConsumer);
}
