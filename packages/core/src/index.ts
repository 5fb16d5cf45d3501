/**
 * @dstream/core: StreamingContext, the micro-batch scheduler, DStream operators, the Kafka direct
 * stream and the OffsetStore interface. Named exports only; internals are not part of the API.
 */

// errors
export {
  DStreamError,
  ConfigError,
  IllegalStateError,
  OffsetStoreError,
  StaleOffsetError,
  OffsetOutOfRangeError,
  KafkaError,
  RecordProcessingError,
} from './errors';

// offsets
export { OffsetRange, topicPartitionKey } from './offsets/OffsetRange';
export type { TopicPartition, OffsetRangeJSON } from './offsets/OffsetRange';
export { commitsFromRanges } from './offsets/OffsetStore';
export type {
  OffsetStore,
  OffsetCommit,
  StoredOffsets,
  OffsetStoreBinding,
  KafkaGroupBinding,
} from './offsets/OffsetStore';
export { InMemoryOffsetStore } from './offsets/InMemoryOffsetStore';
export type { InMemoryTransaction } from './offsets/InMemoryOffsetStore';

// dstream
export { DStream } from './dstream/DStream';
export type { DStreamNode } from './dstream/DStream';
export type { BatchContext, OutputOperation, InputSource, StreamingContextLike } from './context/types';
