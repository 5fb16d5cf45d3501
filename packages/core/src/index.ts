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

// dstream operators
export type { Batch } from './dstream/operators/batches$';
export type { PrintSink } from './dstream/operators/print';
export type { WidenLiteral } from './dstream/operators/reduceByKey';

// context, scheduler, events
export { StreamingContext } from './context/StreamingContext';
export type { StreamingContextOptions, StopOptions, StreamingContextState } from './context/StreamingContext';
export type {
  StreamingEvent,
  StreamingListener,
  BatchInfo,
  StreamingStartedEvent,
  BatchSubmittedEvent,
  BatchStartedEvent,
  BatchCompletedEvent,
  StreamingErrorEvent,
  StreamingStoppedEvent,
} from './scheduler/events';
export { SystemClock } from './util/Clock';
export type { Clock } from './util/Clock';
export { consoleLogger, silentLogger } from './util/Logger';
export type { Logger } from './util/Logger';
export { retry } from './util/retry';
export type { RetryOptions } from './util/retry';

// kafka
export { KafkaUtils } from './kafka/KafkaUtils';
export { ConsumerStrategies } from './kafka/ConsumerStrategies';
export type { ConsumerStrategy } from './kafka/ConsumerStrategies';
export type {
  ConsumerRecord,
  DeliverySemantics,
  DirectStreamOptions,
  StartingOffsets,
  Deserializer,
  BackpressureOptions,
} from './kafka/DirectStreamOptions';
export type { KafkaHeader, TopicPartitionOffset } from './kafka/KafkaClient';
export { PIDRateEstimator } from './kafka/PIDRateEstimator';
export type { PIDRateEstimatorOptions } from './kafka/PIDRateEstimator';

// offsets-kafka: wraps librdkafka errors the same way the direct stream does
export { toKafkaError } from './kafka/KafkaClient';

// workers: one process per core, supervised (what `dstream run --workers N` runs)
export { runWorkers } from './workers/runWorkers';
export type { RunWorkersOptions, WorkersResult, SpawnFunction, SignalSource } from './workers/runWorkers';
export { WORKER_ID_VARIABLE, isWorkerReport } from './workers/workerReport';
export type { WorkerReport } from './workers/workerReport';
