/**
 * What a record that fails does to its batch, under the `recordErrors` policy: a record that
 * cannot be deserialized fails the batch that reads it, and under `dead-letter` a record that
 * keeps failing is set aside after `maxAttempts`, its letter written with the batch's commit.
 */
import type { BatchErrorDecision } from '../context/types';
import { userFunctionError } from '../dstream/userFunctionError';
import { RecordProcessingError } from '../errors';
import { type DeadLetter, deadLetterId, renderPayload } from '../offsets/DeadLetter';
import { topicPartitionKey } from '../offsets/OffsetRange';
import type { DeadRecord, PlannedBatch } from './BatchPlanner';
import type { ConsumerRecord, ResolvedDirectStreamOptions } from './DirectStreamOptions';
import type { KafkaHeader, RecordBuilder } from './KafkaClient';

/**
 * Stands in the fetch buffer for a record whose key or value could not be deserialized: the
 * failure surfaces only if a batch reads that offset, as it would have if deserialized then.
 */
export class UndeserializableRecord {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    readonly error: Error,
    /** The bytes as fetched, for a dead letter. */
    readonly key: Buffer | null,
    readonly value: Buffer | null,
  ) {}
}

/**
 * Builds each fetched record, deserialized, straight from the client's fields (one object per
 * record). Runs in the fetch loop, which must not throw: a failing deserializer yields an
 * `UndeserializableRecord` that fails the batch reading it. A record dropped by a seek and
 * fetched again is deserialized again.
 */
export function recordBuilder<K, V>(
  options: Pick<ResolvedDirectStreamOptions<K, V>, 'keyDeserializer' | 'valueDeserializer'>,
): RecordBuilder<ConsumerRecord<K, V> | UndeserializableRecord> {
  const { keyDeserializer, valueDeserializer } = options;
  return (topic, partition, offset, rawKey, rawValue, timestamp, headers: readonly KafkaHeader[]) => {
    let key: K;
    let value: V;
    try {
      key = keyDeserializer(rawKey);
    } catch (error) {
      const failure = userFunctionError('keyDeserializer', error, { topic, partition, offset }, true);
      return new UndeserializableRecord(topic, partition, offset, failure, rawKey, rawValue);
    }
    try {
      value = valueDeserializer(rawValue);
    } catch (error) {
      const failure = userFunctionError('valueDeserializer', error, { topic, partition, offset }, true);
      return new UndeserializableRecord(topic, partition, offset, failure, rawKey, rawValue);
    }
    return { topic, partition, offset, key, value, timestamp, headers };
  };
}

/** The `recordErrors` policy of one stream, applied batch by batch. */
export class RecordErrorPolicy {
  constructor(
    private readonly name: string,
    private readonly options: ResolvedDirectStreamOptions<unknown, unknown>,
  ) {}

  /**
   * The policy's decision on a batch's failure: run the batch again when the error names one of
   * the records the batch read (a `RecordProcessingError` with a source record), counting the
   * attempt against that record; at `maxAttempts` the record is set aside and the batch runs
   * again without it. Anything else fails the batch; a record error that the policy cannot act
   * on says why.
   */
  decide(batch: PlannedBatch | undefined, error: Error, notRecomputable?: string): BatchErrorDecision {
    const policy = this.options.recordErrors;
    const failure = recordErrorOf(error);
    if (policy.policy !== 'dead-letter' || failure === undefined || batch === undefined) return { retry: false, error };
    const time = batch.time;
    const refuse = (reason: string): BatchErrorDecision => ({
      retry: false,
      error: new RecordProcessingError(failure.operator, failure.cause, {
        topic: failure.topic,
        partition: failure.partition,
        offset: failure.offset,
        isSourceRecord: failure.isSourceRecord,
        note: `not dead-lettered: ${reason}`,
      }),
    });
    if (!failure.isSourceRecord) {
      return refuse(
        'no single record read from Kafka is to blame (the function ran on records already combined or regrouped: ' +
          'an aggregation, a join, a window, a mapPartitions, or an output over the whole batch); ' +
          'catch the error in that function, or fix it',
      );
    }
    const { topic, partition, offset } = failure as { topic: string; partition: number; offset: number };
    const key = topicPartitionKey(topic, partition);
    const range = (batch.claimed?.ranges ?? batch.ranges).find((r) => r.key === key);
    if (range === undefined || offset < range.fromOffset || offset >= range.untilOffset) {
      return refuse(`the record is not one batch ${time} read (it reached the function from an earlier batch, through a window)`);
    }
    if (notRecomputable !== undefined) return refuse(notRecomputable);
    const id = deadLetterId({ topic, partition, offset });
    const attempts = (batch.attempts.get(id) ?? 0) + 1;
    batch.attempts.set(id, attempts);
    const { logger } = this.options;
    if (attempts < policy.maxAttempts) {
      logger.warn(
        `${this.name}: batch ${time} failed on ${topic}-${partition} offset ${offset} (attempt ${attempts} of ${policy.maxAttempts}); ` +
          'running it again',
        { error },
      );
      return { retry: true };
    }
    if (batch.dead.size >= policy.maxPerBatch) {
      return refuse(
        `batch ${time} already set aside recordErrors.maxPerBatch (${policy.maxPerBatch}) records; ` +
          'so many failures look like a bug rather than bad records: fix it, or raise maxPerBatch',
      );
    }
    const cause = failure.cause;
    batch.dead.set(id, {
      letter: {
        topic,
        partition,
        offset,
        key: null,
        value: null,
        operator: failure.operator,
        error: cause instanceof Error ? cause.message : String(cause),
        attempts,
        batchTimeMs: time,
      },
    });
    logger.warn(
      `${this.name}: batch ${time} failed on ${topic}-${partition} offset ${offset} ${attempts} time${attempts === 1 ? '' : 's'}; ` +
        'setting the record aside and running the batch without it',
      { error },
    );
    return { retry: true };
  }

  /**
   * Keeps the letters of the records `batch` set aside, for its claimed partitions only (a
   * partition given up goes to its next owner, which reads and judges the record itself): inside
   * the store transaction under exactly-once, so they persist exactly when the offsets do;
   * otherwise written before the offsets commit, once per record whatever the retries.
   */
  async writeDeadLetters(batch: PlannedBatch, claimed: ReadonlySet<string>, transaction: unknown): Promise<void> {
    const letters: DeadLetter[] = [];
    for (const { letter } of batch.dead.values()) {
      if (claimed.has(topicPartitionKey(letter.topic, letter.partition))) letters.push(letter);
    }
    if (letters.length === 0) return;
    const { offsetStore, groupId, logger } = this.options;
    await offsetStore.writeDeadLetters!(groupId, letters, transaction ?? undefined);
    for (const letter of letters) {
      logger.warn(
        `${this.name}: dead-lettered ${letter.topic}-${letter.partition} offset ${letter.offset} in batch ${batch.time} ` +
          `after ${letter.attempts} attempt${letter.attempts === 1 ? '' : 's'}; ${letter.operator} threw: ${letter.error}`,
        { topic: letter.topic, partition: letter.partition, offset: letter.offset, batchTimeMs: batch.time },
      );
    }
  }

  /** Records `batch` set aside (dead letters it commits), for its BatchInfo. */
  deadLetterCount(batch: PlannedBatch | undefined): number {
    if (batch === undefined || batch.dead.size === 0) return 0;
    const keys = batch.claimed?.keys;
    let count = 0;
    for (const { letter } of batch.dead.values()) {
      if (keys === undefined || keys.has(topicPartitionKey(letter.topic, letter.partition))) count++;
    }
    return count;
  }

  /**
   * A batch's records as its outputs see them: without those set aside (filling each dead
   * letter's key and value from its record, the bytes as fetched for a record that could not be
   * deserialized); the first record that could not be deserialized fails the batch.
   */
  recordsOf<K, V>(batch: PlannedBatch, records: readonly (ConsumerRecord<K, V> | UndeserializableRecord)[]): ConsumerRecord<K, V>[] {
    const kept = batch.dead.size > 0 ? withoutDead(records, batch.dead) : records;
    for (let index = 0; index < kept.length; index++) {
      const record = kept[index];
      if (record instanceof UndeserializableRecord) throw record.error;
    }
    return kept as ConsumerRecord<K, V>[];
  }
}

/** `records` without those set aside, filling each dead letter's key and value from its record. */
function withoutDead<R extends { topic: string; partition: number; offset: number }>(
  records: readonly R[],
  dead: ReadonlyMap<string, DeadRecord>,
): R[] {
  const kept: R[] = [];
  for (const record of records) {
    const entry = dead.get(deadLetterId(record));
    if (entry === undefined) {
      kept.push(record);
      continue;
    }
    const { key, value } = record as unknown as { key: unknown; value: unknown };
    entry.letter = { ...entry.letter, key: renderPayload(key), value: renderPayload(value) };
  }
  return kept;
}

/** The `RecordProcessingError` behind `error`: itself, or one in its `cause` chain (an output may wrap it). */
function recordErrorOf(error: unknown): RecordProcessingError | undefined {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (current instanceof RecordProcessingError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
