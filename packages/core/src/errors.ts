/**
 * The one error hierarchy of dstream. Retry logic reads only `retriable`; every subclass carries
 * the context a reader needs to act (the option, the partition, the store, the batch). Messages
 * pass through the redaction rule (`util/redact.ts`), so no error prints a credential.
 */
import { isSecretOption, markRedacted, printable, REDACTED, redact, redactText } from './util/redact';

/**
 * Base class of every error dstream raises. `retriable` says whether trying again may succeed.
 * The message is redacted (URL user-info, secret `key=value` pairs); a driver's error given as
 * `cause` should be passed through `driverError` first, as every store does.
 */
export class DStreamError extends Error {
  readonly retriable: boolean;

  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(redactText(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
    markRedacted(this);
  }
}

/**
 * A configuration value broke a rule. Raised before any connection or other side effect.
 * The message states the option, the value received and the fix. A secret option's value
 * (`kafkaParams["sasl.password"]`, see `isSecretKey`) is never echoed: message and `value` show
 * `***`; any other value is shown and kept redacted (`redact`: URL user-info, nested passwords).
 */
export class ConfigError extends DStreamError {
  readonly option: string;
  /** The rejected value, redacted. */
  readonly value: unknown;

  constructor(option: string, value: unknown, rule: string, fix: string) {
    const shown = isSecretOption(option) && value !== undefined ? REDACTED : redact(value);
    super(`${option} ${rule}; got ${shown === REDACTED ? REDACTED : describeValue(shown)}. ${fix}`);
    this.option = option;
    this.value = shown;
  }
}

/**
 * A server refused the credentials or the permissions of the client: wrong password, unknown
 * user, a SASL mechanism or TLS handshake the server does not accept, an ACL that denies the
 * command. Raised as soon as the server says so, never retriable (the same credentials fail the
 * same way). Names the service, the address and the user, never the secret.
 *
 * @example
 * try { await store.connect(); } catch (error) {
 *   if (error instanceof AuthenticationError) console.error(`fix the credentials of ${error.user}@${error.address}`);
 * }
 */
export class AuthenticationError extends DStreamError {
  /** `kafka`, `redis`, `postgres`, `zookeeper`. */
  readonly service: string;
  /** host:port (or broker list) of the server that refused. */
  readonly address: string;
  /** The user the client presented, when it presented one. */
  readonly user: string | undefined;

  constructor(
    service: string,
    address: string,
    user: string | undefined,
    reason: string,
    fix: string,
    options: { cause?: unknown } = {},
  ) {
    const who = user === undefined || user === '' ? 'the client' : `user ${JSON.stringify(user)}`;
    super(`${service} at ${address} refused ${who}: ${reason}. ${fix}`, { retriable: false, cause: options.cause });
    this.service = service;
    this.address = address;
    this.user = user === '' ? undefined : user;
  }
}

/**
 * A batch may not commit: the group gave one of its partitions to another member while the batch
 * ran longer than `revokeTimeoutMs`. Nothing of the batch was committed (under exactly-once its
 * transaction aborted with the outputs' writes). Never retriable.
 */
export class FencedBatchError extends DStreamError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

/** An operation is not allowed in the StreamingContext's current state (e.g. adding an operator after start). */
export class IllegalStateError extends DStreamError {}

/** An offset store failed to load or commit. Wraps the client's error as `cause`. */
export class OffsetStoreError extends DStreamError {
  readonly store: string;
  readonly batchTimeMs: number | undefined;

  constructor(
    store: string,
    message: string,
    options: { retriable?: boolean; cause?: unknown; batchTimeMs?: number } = {},
  ) {
    const batch = options.batchTimeMs === undefined ? '' : ` (batch ${options.batchTimeMs})`;
    super(`offset store ${store}${batch}: ${message}`, options);
    this.store = store;
    this.batchTimeMs = options.batchTimeMs;
  }
}

/**
 * A compare-and-set commit found a stored offset other than the batch's `fromOffset`: another
 * writer (a zombie after a rebalance, a second copy of the job) moved it. Never retriable.
 */
export class StaleOffsetError extends OffsetStoreError {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly expectedOffset: number | null;
  readonly actualOffset: number | null;

  constructor(
    store: string,
    group: string,
    topic: string,
    partition: number,
    expectedOffset: number | null,
    actualOffset: number | null,
  ) {
    super(
      store,
      `stale commit for group ${printable(group)} ${printable(topic)}-${partition}: expected stored offset ${expectedOffset ?? 'none'}, ` +
        `found ${actualOffset ?? 'none'}. Another process commits for this group; stop it, or give this job its own group.id`,
    );
    this.group = group;
    this.topic = topic;
    this.partition = partition;
    this.expectedOffset = expectedOffset;
    this.actualOffset = actualOffset;
  }
}

/** A stored or requested offset lies outside the partition's log [logStartOffset, logEndOffset]. */
export class OffsetOutOfRangeError extends DStreamError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;

  constructor(topic: string, partition: number, offset: number, logStartOffset: number, logEndOffset: number) {
    super(
      `offset ${offset} of ${topic}-${partition} is outside the log [${logStartOffset}, ${logEndOffset}] ` +
        `(records deleted by retention, or the topic was recreated). Set offsetOutOfRange: 'earliest' or 'latest' ` +
        `to resume from the log's start or end, or store a valid offset`,
    );
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.logStartOffset = logStartOffset;
    this.logEndOffset = logEndOffset;
  }
}

/** An error from librdkafka, with its numeric code and flags. */
export class KafkaError extends DStreamError {
  readonly code: number | undefined;
  readonly isFatal: boolean;

  constructor(message: string, options: { code?: number; isFatal?: boolean; retriable?: boolean; cause?: unknown } = {}) {
    super(message, { retriable: options.retriable ?? false, cause: options.cause });
    this.code = options.code;
    this.isFatal = options.isFatal ?? false;
  }
}

/**
 * User code threw while processing a record; names the record's position when it is known.
 * `isSourceRecord` is true when that position is the record read from Kafka that the failing
 * function was processing (the head of a fused chain over a Kafka input, or a deserializer):
 * only then can a dead-letter policy set that one record aside. An error thrown after records
 * were combined (a `reduceByKey` function, an output over the whole batch) is not.
 */
export class RecordProcessingError extends DStreamError {
  readonly operator: string;
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  readonly offset: number | undefined;
  readonly isSourceRecord: boolean;

  constructor(
    operator: string,
    cause: unknown,
    position: { topic?: string; partition?: number; offset?: number; isSourceRecord?: boolean; note?: string } = {},
  ) {
    const where =
      position.topic === undefined ? '' : ` at ${position.topic}-${position.partition} offset ${position.offset}`;
    const note = position.note === undefined ? '' : ` (${position.note})`;
    super(`${operator} threw${where}: ${cause instanceof Error ? cause.message : String(cause)}${note}`, { cause });
    this.operator = operator;
    this.topic = position.topic;
    this.partition = position.partition;
    this.offset = position.offset;
    this.isSourceRecord = position.topic !== undefined && position.isSourceRecord === true;
  }
}

/**
 * Renders a configuration value for an error message. Numbers JSON cannot spell (`NaN`,
 * `Infinity`, `-Infinity`) are shown as themselves, not as JSON's `null`.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof RegExp) return String(value);
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
