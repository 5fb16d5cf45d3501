import { ConfigError } from '../errors';
import type { OffsetStore } from '../offsets/OffsetStore';
import type { Logger } from '../util/Logger';
import { consoleLogger, redactingLogger } from '../util/Logger';
import { redactedView } from '../util/redact';
import type { ConsumerStrategy } from './ConsumerStrategies';
import { resolveDeserializer } from './deserializers';
import type { FetchEngine, KafkaHeader } from './KafkaClient';
import { checkKafkaParams, nearestName } from './kafkaParams';
import type { PIDRateEstimatorOptions } from './PIDRateEstimator';

/**
 * One Kafka record as a direct stream delivers it. Within a batch, records of one partition come
 * in offset order.
 *
 * @example
 * stream.map((record) => `${record.topic}-${record.partition}@${record.offset}: ${record.value}`);
 */
export interface ConsumerRecord<K = Buffer | null, V = Buffer | null> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: K;
  readonly value: V;
  /** Create or log-append time, ms since the epoch; -1 when the broker sent none. */
  readonly timestamp: number;
  readonly headers: readonly KafkaHeader[];
}

/**
 * When offsets are committed relative to the batch's outputs:
 * `at-most-once` commits first (a crash loses the batch), `at-least-once` after (a crash repeats
 * it), `exactly-once` inside the offset store's transaction together with the output's writes.
 */
export type DeliverySemantics = 'at-most-once' | 'at-least-once' | 'exactly-once';

/** Where to start a partition that has no stored offset: the log's start, its end, or the first record at or after a time. */
export type StartingOffsets = 'earliest' | 'latest' | { readonly timestampMs: number };

/**
 * Turns a record's key or value bytes into a value: `buffer` (as is), `string` (UTF-8), `json`
 * (UTF-8 JSON), or a function. Null stays null for the built-in ones. `string` and `json` throw
 * on bytes that are not valid UTF-8 (the stream reports the record's topic, partition and offset)
 * rather than replace them with U+FFFD; for other encodings pass a function, e.g.
 * `(data) => data?.toString('latin1') ?? null`.
 */
export type Deserializer<T> = 'buffer' | 'string' | 'json' | ((data: Buffer | null) => T);

/** Backpressure: adapt each batch's size to how fast batches are processed (Spark's `spark.streaming.backpressure.*`). */
export interface BackpressureOptions {
  /** Turns the rate estimator on. Default false. */
  readonly enabled?: boolean;
  /** Records per second (whole stream) for the first batches after a start, before the estimator has a rate. */
  readonly initialRate?: number;
  /** The estimator's gains and floor. */
  readonly pid?: PIDRateEstimatorOptions;
}

/**
 * What happens when user code throws on a record (`recordErrors`): `'fail'` stops the job at the
 * record, or the dead-letter policy sets the record aside after `maxAttempts` runs of its batch,
 * keeps it with the batch's offsets and lets the batch go on. See docs/guide/errors.md.
 */
export type RecordErrorPolicy =
  | 'fail'
  | {
      readonly policy: 'dead-letter';
      /** Runs of the batch that fail on the same record before it is set aside. Default 3. */
      readonly maxAttempts?: number;
      /**
       * Most records set aside in one batch; one more fails the batch (a bug that fails every
       * record should stop the job, not empty the topic into dead letters). Default 100.
       */
      readonly maxPerBatch?: number;
    };

/** `recordErrors` after checking, with defaults filled in. */
export type ResolvedRecordErrorPolicy =
  | { readonly policy: 'fail' }
  | { readonly policy: 'dead-letter'; readonly maxAttempts: number; readonly maxPerBatch: number };

/**
 * Options of `KafkaUtils.createDirectStream`. Only `kafkaParams`, `strategy` and `offsetStore`
 * are required; everything is checked before any connection is opened.
 *
 * @example
 * const options: DirectStreamOptions<string, string> = {
 *   kafkaParams: { 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'orders' },
 *   strategy: ConsumerStrategies.Subscribe(['orders']),
 *   offsetStore: new InMemoryOffsetStore(),
 *   delivery: 'exactly-once',
 *   maxRatePerPartition: 10_000,
 * };
 */
export interface DirectStreamOptions<K = Buffer | null, V = Buffer | null> {
  /**
   * librdkafka consumer configuration. `bootstrap.servers` and `group.id` are required.
   * Auto-commit and auto offset store are always off (offsets go to `offsetStore`), and the
   * stream sets `enable.partition.eof` and the rebalance callback itself.
   */
  readonly kafkaParams: Readonly<Record<string, string | number | boolean>>;
  /** Which partitions to read: `ConsumerStrategies.Subscribe`, `SubscribePattern` or `Assign`. */
  readonly strategy: ConsumerStrategy;
  /** Where offsets persist: `InMemoryOffsetStore` in tests, a `@dstream/offsets-*` store in production. */
  readonly offsetStore: OffsetStore;
  /** Default `at-least-once`. */
  readonly delivery?: DeliverySemantics;
  /**
   * Declares the outputs idempotent (writing a batch twice leaves the same result), which makes
   * `exactly-once` possible on a store without transactions: outputs run, then the commit.
   */
  readonly idempotentOutput?: boolean;
  /**
   * Also commit every range the offset store committed to the Kafka consumer group (`group.id`),
   * after the store's commit, so `kafka-consumer-groups --describe` and lag monitors that read
   * Kafka see the job whichever store is primary. The store stays the truth: the mirror is
   * written after it, is never read back, and a failed mirror commit is logged, not retried.
   * Default false; refused with a store that already keeps the offsets in the group.
   */
  readonly mirrorOffsetsToGroup?: boolean;
  /**
   * Start of partitions with no stored and no explicit offset. Default `latest`, as Kafka's
   * `auto.offset.reset` and Spark: a new job starts with new records. Stored offsets always win.
   */
  readonly startingOffsets?: StartingOffsets;
  /** What to do when a stored or planned offset lies outside the log: `fail` (default), `earliest` or `latest`. */
  readonly offsetOutOfRange?: 'fail' | 'earliest' | 'latest';
  /**
   * Start of partitions (and topics matching a pattern) that appear while the stream runs.
   * Default `earliest`, so nothing written to them before they were noticed is skipped.
   */
  readonly newPartitions?: 'earliest' | 'latest';
  /** Most records per second read from one partition. */
  readonly maxRatePerPartition?: number;
  /** Fewest records per second a lagging partition is allowed, whatever backpressure says. */
  readonly minRatePerPartition?: number;
  readonly backpressure?: BackpressureOptions;
  /** Default `buffer`. */
  readonly keyDeserializer?: Deserializer<K>;
  /** Default `buffer`. */
  readonly valueDeserializer?: Deserializer<V>;
  /**
   * Longest wait for the brokers to answer (connect, metadata, watermark queries). Default 10000 ms.
   * The first group assignment may also wait out `session.timeout.ms` of a member that died.
   */
  readonly connectTimeoutMs?: number;
  /** How often librdkafka refreshes metadata, which is when new topics matching a pattern are found. Default 30000 ms. */
  readonly metadataRefreshMs?: number;
  /**
   * Most retries of a retriable offset-store failure before the batch fails. Default: no count,
   * retries go on for `storeOutageBudgetMs`.
   */
  readonly commitRetries?: number;
  /**
   * How long the offset store may stay unreachable (retriable failures) while a batch commits or
   * partitions load their offsets: the job waits, retrying with backoff and logging each attempt,
   * and goes on when the store is back. Past it, the batch fails naming the store. Default 60000 ms.
   */
  readonly storeOutageBudgetMs?: number;
  /**
   * How long a rebalance waits for a running batch that reads revoked partitions to finish and
   * commit before they are given up. A batch that takes longer fails instead of committing
   * partitions this member no longer owns. Keep it below `max.poll.interval.ms`. Default 30000 ms.
   */
  readonly revokeTimeoutMs?: number;
  /** Longest a batch waits for its records to arrive from the brokers. Default 120000 ms. */
  readonly fetchTimeoutMs?: number;
  /**
   * Who fetches records: `'wire'` (default), dstream's own Fetch API client (docs/fetching.md),
   * with librdkafka running the group, commits and metadata, and fetching instead over TLS/SASL
   * or once a batch is compressed with snappy, lz4 or zstd; or `'librdkafka'` for everything.
   */
  readonly fetchEngine?: FetchEngine;
  /**
   * Most bytes one batch reads, all partitions together, counted as each record's key and value
   * plus 350 bytes for the objects that hold it, and planned from the average size of the records
   * fetched lately. Default 32 MiB. Records are made ahead of the batches only when librdkafka
   * fetches (up to this budget, split between the partitions; over the wire, a record is made
   * when a batch asks for it); the fetcher's queue of fetched bytes stops fetching at its own
   * bound: `queued.max.messages.kbytes`, by default a quarter of this budget. So memory stays
   * bounded whatever the backlog: the first batch after downtime is cut to this budget, not the
   * whole lag. A batch held
   * whole drains a backlog at about this budget per batch interval (~73 000 records of 100 bytes
   * per batch by default). A streamed batch (under at-least-once, when the stream's one reader is
   * an aggregation folding records as they arrive: see docs/guide/operators.md, "Streamed
   * batches") is never held whole: after the first, it holds what the batches went through lately
   * in one interval, never less than this budget, so a backlog drains as fast as the job runs.
   */
  readonly maxBatchBytes?: number;
  /**
   * Also pause fetching a partition once this many records wait ahead of the current batch.
   * Default: no record limit; `maxBatchBytes` bounds read-ahead in bytes.
   */
  readonly maxBufferedRecordsPerPartition?: number;
  /**
   * What happens when a user function throws on a record: `'fail'` (default) stops the job with
   * the record's topic, partition and offset in the error; `{ policy: 'dead-letter' }` retries
   * the batch, then sets the record aside in `offsetStore` with the batch's offsets and goes on.
   */
  readonly recordErrors?: RecordErrorPolicy;
  /** Where warnings (offset resets, rebalances) go. Default: the context's logger, with field `stream`. */
  readonly logger?: Logger;
}

/** The options after checking, with defaults filled in. */
export interface ResolvedDirectStreamOptions<K, V> {
  readonly kafkaParams: Readonly<Record<string, string | number | boolean>>;
  readonly groupId: string;
  readonly brokers: string;
  readonly strategy: ConsumerStrategy;
  readonly offsetStore: OffsetStore;
  readonly delivery: DeliverySemantics;
  readonly idempotentOutput: boolean;
  readonly mirrorOffsetsToGroup: boolean;
  readonly startingOffsets: StartingOffsets;
  readonly offsetOutOfRange: 'fail' | 'earliest' | 'latest';
  readonly newPartitions: 'earliest' | 'latest';
  readonly maxRatePerPartition: number | undefined;
  readonly minRatePerPartition: number | undefined;
  readonly backpressure: { readonly enabled: boolean; readonly initialRate: number | undefined; readonly pid: PIDRateEstimatorOptions };
  readonly keyDeserializer: (data: Buffer | null) => K;
  readonly valueDeserializer: (data: Buffer | null) => V;
  readonly connectTimeoutMs: number;
  readonly metadataRefreshMs: number;
  readonly commitRetries: number;
  readonly storeOutageBudgetMs: number;
  readonly revokeTimeoutMs: number;
  readonly fetchTimeoutMs: number;
  readonly fetchEngine: FetchEngine;
  readonly maxBatchBytes: number;
  readonly maxBufferedRecordsPerPartition: number | undefined;
  readonly recordErrors: ResolvedRecordErrorPolicy;
  readonly logger: Logger;
}

/** `maxBatchBytes` when not given: 32 MiB. */
export const DEFAULT_MAX_BATCH_BYTES = 32 * 2 ** 20;
/** Smallest `maxBatchBytes`: below it, librdkafka's single fetches (1 MiB per partition) would not fit. */
const MIN_BATCH_BYTES = 2 ** 20;

function checkPositive(option: string, value: number | undefined, unit: string, integer = false): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isSafeInteger(value))) {
    throw new ConfigError(option, value, `must be a positive ${integer ? 'integer' : 'number'} (${unit})`, `Pass e.g. 1000, or omit it.`);
  }
}

function checkChoice<T extends string>(option: string, value: T | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value)) {
    throw new ConfigError(option, value, `must be one of ${choices.map((c) => `'${c}'`).join(', ')}`, `Omit it for '${fallback}'.`);
  }
  return value;
}

function looksLikeOffsetStore(store: unknown): store is OffsetStore {
  const candidate = store as Partial<OffsetStore> | null | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.load === 'function' &&
    typeof candidate.commit === 'function' &&
    typeof candidate.connect === 'function' &&
    typeof candidate.close === 'function'
  );
}

/** Checks every option of a direct stream and fills in defaults. Throws `ConfigError`; touches nothing. */
export function resolveDirectStreamOptions<K, V>(
  options: DirectStreamOptions<K, V>,
): ResolvedDirectStreamOptions<K, V> {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', options, 'must be an object', 'Pass { kafkaParams, strategy, offsetStore }.');
  }
  const { groupId, brokers } = checkKafkaParams(options.kafkaParams);
  const strategy = options.strategy;
  if (typeof strategy !== 'object' || strategy === null || !['Subscribe', 'SubscribePattern', 'Assign'].includes(strategy.kind)) {
    throw new ConfigError(
      'strategy',
      strategy,
      'must come from ConsumerStrategies',
      'Pass ConsumerStrategies.Subscribe([...]), SubscribePattern(/.../) or Assign([...]).',
    );
  }
  if (!looksLikeOffsetStore(options.offsetStore)) {
    throw new ConfigError(
      'offsetStore',
      options.offsetStore,
      'is required: the direct stream keeps its offsets in an OffsetStore, never in auto-commit',
      'Use new InMemoryOffsetStore() for tests, or a store from @dstream/offsets-kafka (the group\'s own offsets), ' +
        '@dstream/offsets-redis, @dstream/offsets-zookeeper, @dstream/offsets-hbase, @dstream/offsets-checkpoint or @dstream/offsets-postgres.',
    );
  }
  const store = options.offsetStore;
  const delivery = checkChoice('delivery', options.delivery, ['at-most-once', 'at-least-once', 'exactly-once'], 'at-least-once');
  const idempotentOutput = options.idempotentOutput ?? false;
  if (typeof idempotentOutput !== 'boolean') {
    throw new ConfigError('idempotentOutput', idempotentOutput, 'must be a boolean', 'Pass true or false, or omit it.');
  }
  if (delivery === 'exactly-once' && !(store.supportsTransactions && typeof store.transaction === 'function') && !idempotentOutput) {
    throw new ConfigError(
      'delivery',
      delivery,
      `needs an offset store with transactions, and store "${store.name}" has none`,
      'Use a transactional store (PostgresOffsetStore, RedisOffsetStore, KafkaTransactionalSink, InMemoryOffsetStore), ' +
        'or declare idempotentOutput: true ' +
        'if writing a batch twice leaves the same result, or choose at-least-once.',
    );
  }
  const mirrorOffsetsToGroup = options.mirrorOffsetsToGroup ?? false;
  if (typeof mirrorOffsetsToGroup !== 'boolean') {
    throw new ConfigError('mirrorOffsetsToGroup', mirrorOffsetsToGroup, 'must be a boolean', 'Pass true or false, or omit it.');
  }
  if (mirrorOffsetsToGroup && (store.name === 'kafka' || store.name === 'kafka-transactional')) {
    throw new ConfigError(
      'mirrorOffsetsToGroup',
      mirrorOffsetsToGroup,
      `is only for stores outside Kafka, and store "${store.name}" keeps the offsets in the consumer group already`,
      'Omit it: the group shows the offsets as they are.',
    );
  }
  const startingOffsets = options.startingOffsets ?? 'latest';
  if (
    startingOffsets !== 'earliest' &&
    startingOffsets !== 'latest' &&
    !(
      typeof startingOffsets === 'object' &&
      startingOffsets !== null &&
      Number.isSafeInteger(startingOffsets.timestampMs) &&
      startingOffsets.timestampMs >= 0
    )
  ) {
    throw new ConfigError(
      'startingOffsets',
      startingOffsets,
      "must be 'earliest', 'latest' or { timestampMs } with a non-negative integer time",
      "Pass e.g. 'earliest' or { timestampMs: Date.parse('2024-01-01T00:00:00Z') }.",
    );
  }
  const offsetOutOfRange = checkChoice('offsetOutOfRange', options.offsetOutOfRange, ['fail', 'earliest', 'latest'], 'fail');
  const newPartitions = checkChoice('newPartitions', options.newPartitions, ['earliest', 'latest'], 'earliest');
  checkPositive('maxRatePerPartition', options.maxRatePerPartition, 'records per second');
  checkPositive('minRatePerPartition', options.minRatePerPartition, 'records per second');
  if (
    options.maxRatePerPartition !== undefined &&
    options.minRatePerPartition !== undefined &&
    options.minRatePerPartition > options.maxRatePerPartition
  ) {
    throw new ConfigError(
      'minRatePerPartition',
      options.minRatePerPartition,
      `must not exceed maxRatePerPartition (${options.maxRatePerPartition})`,
      'Lower minRatePerPartition or raise maxRatePerPartition.',
    );
  }
  const backpressure = options.backpressure ?? {};
  if (typeof backpressure !== 'object' || backpressure === null) {
    throw new ConfigError('backpressure', backpressure, 'must be an object', 'Pass { enabled: true, initialRate: 1000 }.');
  }
  checkPositive('backpressure.initialRate', backpressure.initialRate, 'records per second for the whole stream');
  if (backpressure.initialRate !== undefined && backpressure.enabled !== true) {
    throw new ConfigError(
      'backpressure.initialRate',
      backpressure.initialRate,
      'applies only with backpressure.enabled: true',
      'Set backpressure.enabled: true, or use maxRatePerPartition for a fixed limit.',
    );
  }
  checkPositive('connectTimeoutMs', options.connectTimeoutMs, 'ms', true);
  checkPositive('metadataRefreshMs', options.metadataRefreshMs, 'ms', true);
  checkPositive('fetchTimeoutMs', options.fetchTimeoutMs, 'ms', true);
  checkPositive('storeOutageBudgetMs', options.storeOutageBudgetMs, 'ms', true);
  checkPositive('revokeTimeoutMs', options.revokeTimeoutMs, 'ms', true);
  checkPositive('maxBufferedRecordsPerPartition', options.maxBufferedRecordsPerPartition, 'records', true);
  const maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  if (!Number.isSafeInteger(maxBatchBytes) || maxBatchBytes < MIN_BATCH_BYTES) {
    throw new ConfigError(
      'maxBatchBytes',
      maxBatchBytes,
      `must be an integer number of bytes, at least ${MIN_BATCH_BYTES} (1 MiB)`,
      `Pass e.g. ${64 * 2 ** 20} for 64 MiB, or omit it for ${DEFAULT_MAX_BATCH_BYTES / 2 ** 20} MiB.`,
    );
  }
  const commitRetries = options.commitRetries ?? Number.POSITIVE_INFINITY;
  if (!(Number.isSafeInteger(commitRetries) || commitRetries === Number.POSITIVE_INFINITY) || commitRetries < 0) {
    throw new ConfigError(
      'commitRetries',
      commitRetries,
      'must be a non-negative integer or Infinity',
      'Pass e.g. 5, or 0 to fail at once; leave it out to retry for storeOutageBudgetMs.',
    );
  }
  const recordErrors = resolveRecordErrors(options.recordErrors, store, delivery);
  const resolved: ResolvedDirectStreamOptions<K, V> = {
    kafkaParams: withRedactedView('kafkaParams', { ...options.kafkaParams }),
    groupId,
    brokers,
    strategy,
    offsetStore: store,
    delivery,
    idempotentOutput,
    mirrorOffsetsToGroup,
    startingOffsets,
    offsetOutOfRange,
    newPartitions,
    maxRatePerPartition: options.maxRatePerPartition,
    minRatePerPartition: options.minRatePerPartition,
    backpressure: {
      enabled: backpressure.enabled === true,
      initialRate: backpressure.initialRate,
      pid: backpressure.pid ?? {},
    },
    keyDeserializer: resolveDeserializer('keyDeserializer', options.keyDeserializer),
    valueDeserializer: resolveDeserializer('valueDeserializer', options.valueDeserializer),
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    metadataRefreshMs: options.metadataRefreshMs ?? 30_000,
    commitRetries,
    storeOutageBudgetMs: options.storeOutageBudgetMs ?? 60_000,
    revokeTimeoutMs: options.revokeTimeoutMs ?? 30_000,
    fetchTimeoutMs: options.fetchTimeoutMs ?? 120_000,
    fetchEngine: checkChoice('fetchEngine', options.fetchEngine, ['wire', 'librdkafka'], 'wire'),
    maxBatchBytes,
    maxBufferedRecordsPerPartition: options.maxBufferedRecordsPerPartition,
    recordErrors,
    logger: redactingLogger(options.logger ?? consoleLogger),
  };
  // The stream keeps these options: `console.log(stream)` must not show the credentials in them.
  return withRedactedView('DirectStreamOptions', resolved);
}

/** Checks `recordErrors` against the rules and the store that must keep the dead letters. */
function resolveRecordErrors(
  policy: RecordErrorPolicy | undefined,
  store: OffsetStore,
  delivery: DeliverySemantics,
): ResolvedRecordErrorPolicy {
  if (policy === undefined || policy === 'fail') return { policy: 'fail' };
  if (typeof policy !== 'object' || policy === null || (policy as { policy?: unknown }).policy !== 'dead-letter') {
    throw new ConfigError(
      'recordErrors',
      policy,
      "must be 'fail' or { policy: 'dead-letter', maxAttempts?, maxPerBatch? }",
      "Pass 'fail' (the default) to stop at a failing record, or { policy: 'dead-letter' } to set it aside.",
    );
  }
  const known = ['policy', 'maxAttempts', 'maxPerBatch'];
  for (const name of Object.keys(policy)) {
    if (!known.includes(name)) {
      throw new ConfigError(
        `recordErrors.${name}`,
        (policy as Record<string, unknown>)[name],
        'is not an option of the dead-letter policy',
        `Known options: ${known.join(', ')}; did you mean ${nearestName(name, known)}?`,
      );
    }
  }
  const maxAttempts = policy.maxAttempts ?? 3;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
    throw new ConfigError(
      'recordErrors.maxAttempts',
      maxAttempts,
      'must be an integer from 1 to 100: the runs of a batch that fail on one record before it is set aside',
      'Pass e.g. 3 (the default), or 1 to set a failing record aside at its first failure.',
    );
  }
  const maxPerBatch = policy.maxPerBatch ?? 100;
  if (!Number.isSafeInteger(maxPerBatch) || maxPerBatch < 1) {
    throw new ConfigError(
      'recordErrors.maxPerBatch',
      maxPerBatch,
      'must be a positive integer: the most records one batch may set aside before it fails',
      'Pass e.g. 100 (the default).',
    );
  }
  if (delivery === 'at-most-once') {
    throw new ConfigError(
      'recordErrors',
      policy,
      "does not apply with delivery: 'at-most-once', which commits a batch's offsets before its outputs run, so a " +
        'restart never reads a failing record again',
      "Use delivery: 'at-least-once' or 'exactly-once' with the dead-letter policy, or recordErrors: 'fail'.",
    );
  }
  if (typeof store.writeDeadLetters !== 'function') {
    throw new ConfigError(
      'recordErrors',
      policy,
      `needs an offset store that keeps dead letters, and store "${store.name}" does not`,
      'Use InMemoryOffsetStore, RedisOffsetStore, PostgresOffsetStore, or KafkaOffsetStore or KafkaTransactionalSink with ' +
        "their deadLetterTopic option; or recordErrors: 'fail'.",
    );
  }
  return { policy: 'dead-letter', maxAttempts, maxPerBatch };
}

/** `target`, with `util.inspect` and `toJSON` showing it redacted (see `redactedView`). */
function withRedactedView<T extends object>(name: string, target: T): T {
  redactedView(target, name, () => ({ ...target }) as Record<string, unknown>);
  return target;
}
