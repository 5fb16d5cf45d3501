/**
 * @dstream/offsets-kafka: offsets kept in the Kafka consumer group, and a transactional sink that
 * commits a batch's output records and its offsets in one Kafka transaction.
 */
export { KafkaOffsetStore } from './KafkaOffsetStore';
export type { KafkaOffsetStoreOptions } from './KafkaOffsetStore';
export { KafkaTransactionalSink } from './KafkaTransactionalSink';
export type { KafkaTransactionalSinkOptions, KafkaTransaction } from './KafkaTransactionalSink';
export type { KafkaParams } from '@dstream/core/internal';
