/**
 * The one error hierarchy of dstream. Retry logic reads only `retriable`; every subclass carries
 * the context a reader needs to act (the option, the partition, the store, the batch).
 */

/** Base class of every error dstream raises. `retriable` says whether trying again may succeed. */
export class DStreamError extends Error {
  readonly retriable: boolean;

  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/**
 * A configuration value broke a rule. Raised before any connection or other side effect.
 * The message states the option, the value received and the fix.
 */
export class ConfigError extends DStreamError {
  readonly option: string;
  readonly value: unknown;

  constructor(option: string, value: unknown, rule: string, fix: string) {
    super(`${option} ${rule}; got ${describeValue(value)}. ${fix}`);
    this.option = option;
    this.value = value;
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
      `stale commit for group ${group} ${topic}-${partition}: expected stored offset ${expectedOffset ?? 'none'}, ` +
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

/** User code threw while processing a record; names the record's position when it is known. */
export class RecordProcessingError extends DStreamError {
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  readonly offset: number | undefined;

  constructor(
    operator: string,
    cause: unknown,
    position: { topic?: string; partition?: number; offset?: number } = {},
  ) {
    const where =
      position.topic === undefined ? '' : ` at ${position.topic}-${position.partition} offset ${position.offset}`;
    super(`${operator} threw${where}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.topic = position.topic;
    this.partition = position.partition;
    this.offset = position.offset;
  }
}

/** Renders a configuration value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof RegExp) return String(value);
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
