/**
 * @dstream/core/internal: the Kafka clients core makes for dstream's own packages
 * (@dstream/offsets-kafka, @dstream/cli), so that the client library is reached from core's Kafka
 * client files (`KafkaClient.ts` and its siblings) only. Not part of the public API: it may change
 * in any release.
 */
export {
  connectGroupOffsetsClient,
  createKafkaConsumer,
  createRecordProducer,
  createStateTopicClient,
  createTransactionalProducer,
} from './kafka/KafkaClient';
export type {
  GroupOffsetsClient,
  KafkaParams,
  OutputRecord,
  RecordProducer,
  RecordProducerFactory,
  StateTopicClient,
  StateTopicClientFactory,
  StateTopicRecord,
  TransactionalProducer,
  TransactionalProducerFactory,
} from './kafka/KafkaClient';
// The CLI sends its DescribeGroups requests over core's wire connection.
export { BrokerConnection } from './kafka/wire/BrokerConnection';
export type { BrokerAddress } from './kafka/wire/BrokerConnection';
export { requestApiVersions } from './kafka/wire/fetchProtocol';
