import { ConfigError, deadLetterId } from '@dstream/core';
import type { DeadLetter } from '@dstream/core';
import type { OutputRecord, StateTopicRecord } from '@dstream/core/internal';

/** Kafka's rule for topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Checks a `deadLetterTopic` option: undefined (no dead letters) or a Kafka topic name. The topic
 * is created on connect (one partition, compacted) if missing.
 */
export function checkDeadLetterTopic(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !TOPIC_NAME.test(value)) {
    throw new ConfigError(
      'deadLetterTopic',
      value,
      'must be a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)',
      "Pass e.g. 'orders-dead-letters', or omit it to keep no dead letters.",
    );
  }
  return value;
}

/**
 * The dead-letter topic's records for `letters` of `group`: all to partition 0 (the one the topic
 * is read from), keyed by group and record so that compaction keeps one letter per record, the
 * letter as JSON in the value.
 */
export function deadLetterRecords(topic: string, group: string, letters: readonly DeadLetter[]): OutputRecord[] {
  return letters.map((letter) => ({
    topic,
    partition: 0,
    key: JSON.stringify([group, letter.topic, letter.partition, letter.offset]),
    value: JSON.stringify(letter),
  }));
}

/**
 * The letters of `group` among a dead-letter topic's records, one per record (the last written:
 * a letter written twice, as at-least-once may, counts once; a tombstone, a null value, removes
 * it), in (topic, partition, offset) order. Records another writer put in the topic are skipped.
 */
export function deadLettersOf(records: readonly StateTopicRecord[], group: string): DeadLetter[] {
  const letters = new Map<string, DeadLetter>();
  for (const { key, value } of records) {
    const id = letterIdOf(key, group);
    if (id === undefined) continue;
    if (value === null) {
      letters.delete(id);
      continue;
    }
    try {
      letters.set(id, JSON.parse(value) as DeadLetter);
    } catch {
      // Not a letter: skipped.
    }
  }
  return [...letters.values()].sort(
    (a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset),
  );
}

/** `topic:partition:offset` of a letter key of `group` (see `deadLetterRecords`); undefined for any other key. */
function letterIdOf(key: string, group: string): string | undefined {
  try {
    const parsed = JSON.parse(key) as unknown;
    if (!Array.isArray(parsed) || parsed.length !== 4 || parsed[0] !== group) return undefined;
    const [, topic, partition, offset] = parsed as [string, string, number, number];
    return deadLetterId({ topic, partition, offset });
  } catch {
    return undefined;
  }
}
