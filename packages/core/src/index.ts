/**
 * @dstream/core: StreamingContext, the micro-batch scheduler, DStream operators, the Kafka direct
 * stream and the OffsetStore interface. Named exports only; internals are not part of the API.
 */

// errors
export {
  DStreamError,
  ConfigError,
  AuthenticationError,
  IllegalStateError,
  OffsetStoreError,
  StaleOffsetError,
  FencedBatchError,
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
  GroupMetadata,
  StateWrite,
  OperatorStateWrite,
  LoadedState,
} from './offsets/OffsetStore';
export { StoreClient } from './offsets/StoreClient';
export type { StoreDriver } from './offsets/StoreClient';
export { checkExpectedOffsets, findStaleCommit, parseStoredOffset } from './offsets/expectedOffsets';
export { InMemoryOffsetStore } from './offsets/InMemoryOffsetStore';
export type { InMemoryTransaction } from './offsets/InMemoryOffsetStore';
export { renderPayload, deadLetterId } from './offsets/DeadLetter';
export type { DeadLetter } from './offsets/DeadLetter';

// dstream
export { DStream } from './dstream/DStream';
export type { DStreamNode, PairKey, PairValue } from './dstream/DStream';
export type { BatchContext, BatchErrorDecision, OutputOperation, InputSource, StreamingContextLike } from './context/types';

// dstream operators
export type { Batch } from './dstream/operators/batches$';
export type { PrintSink } from './dstream/operators/print';
export type { WidenLiteral } from './dstream/operators/reduceByKey';
export type { ReduceByKeyAndWindowOptions } from './dstream/operators/reduceByKeyAndWindow';
export type { UpdateStateByKeyOptions } from './dstream/operators/updateStateByKey';
export type { WindowOptions } from './dstream/operators/window';
export type { MapWithStateDStream } from './dstream/operators/mapWithState';

// state
export { StateSpec } from './state/StateSpec';
export type { MappingFunction } from './state/StateSpec';
export type { State } from './state/State';
export { StateRegistry, stateRegistryOf } from './state/StateRegistry';
export type { StateNameOptions } from './state/StateRegistry';
export type { StatefulOperator, StateChanges, PartitionStateChanges, StoredState } from './state/StatefulOperator';
export { stateNameOf, unknownStateNames } from './state/StatePersistence';
export { toStoredState, fromStoredState } from './state/StatefulOperator';
export {
  STATE_META_FIELD,
  encodeStateKey,
  encodeStateRecord,
  decodeStateRecord,
  encodeStateMeta,
  decodeStateMeta,
  encodeStateWrite,
} from './state/storedStateCodec';
export type { StoredStateMeta } from './state/storedStateCodec';

// context, scheduler, events
export { StreamingContext } from './context/StreamingContext';
export type { StreamingContextOptions, StopOptions, StreamingContextState } from './context/StreamingContext';
export { fromObservable } from './context/fromObservable';
export type { ObservableStreamOptions } from './context/fromObservable';
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
  InputEvent,
  InputPlannedEvent,
  PlannedPartition,
  OffsetCommitCompletedEvent,
} from './scheduler/events';
export { SystemClock } from './util/Clock';
export type { Clock } from './util/Clock';
export { consoleLogger, silentLogger, withFields } from './util/Logger';
export type { Logger } from './util/Logger';
export { pinoLogger } from './util/pinoLogger';
export type { LoggingOptions, LogLevel, LogDestination } from './util/pinoLogger';

// metrics and UI
export type { MetricsOptions, UiOptions } from './context/Monitoring';
export { StreamingMetrics, DEFAULT_BUCKETS_SECONDS } from './metrics/StreamingMetrics';
export type { StreamingMetricsOptions } from './metrics/StreamingMetrics';
export type { PartitionLagEntry } from './metrics/PartitionLag';
export { BatchTimeline } from './ui/BatchTimeline';
export type { TimelineSnapshot, ActiveBatch, CompletedBatch, LastCommit } from './ui/BatchTimeline';
export { retry } from './util/retry';
export { REDACTED, isSecretKey, redact, redactText, driverError, redactedView, printable } from './util/redact';
export type { RetryOptions } from './util/retry';

// kafka
export { KafkaUtils } from './kafka/KafkaUtils';
export type { BatchTransaction, StoreTransaction, Deserialized, KeyOf, ValueOf } from './kafka/BatchTransaction';
export { ConsumerStrategies } from './kafka/ConsumerStrategies';
export type { ConsumerStrategy } from './kafka/ConsumerStrategies';
export type {
  ConsumerRecord,
  DeliverySemantics,
  DirectStreamOptions,
  StartingOffsets,
  Deserializer,
  BackpressureOptions,
  RecordErrorPolicy,
} from './kafka/DirectStreamOptions';
export type { KafkaHeader, TopicPartitionOffset, KafkaLogReader, WatermarkOffsets, ClusterMetadata } from './kafka/KafkaClient';
export { createKafkaLogReader } from './kafka/KafkaClient';
export { PIDRateEstimator } from './kafka/PIDRateEstimator';
export type { PIDRateEstimatorOptions } from './kafka/PIDRateEstimator';

// offsets-kafka: wraps librdkafka errors the same way the direct stream does
export { toKafkaError, kafkaAuthenticationFailure, kafkaAuthenticationError } from './kafka/KafkaClient';

// workers: one process per core, supervised (what `dstream run --workers N` runs)
export { runWorkers } from './workers/runWorkers';
export type { RunWorkersOptions, WorkersResult, SpawnFunction, SignalSource } from './workers/runWorkers';
export { WORKER_ID_VARIABLE, isWorkerReport } from './workers/workerReport';
export type { WorkerReport } from './workers/workerReport';
