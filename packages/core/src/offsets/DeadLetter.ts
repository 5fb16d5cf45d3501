/**
 * A record set aside by the dead-letter policy (`recordErrors: { policy: 'dead-letter' }`): where
 * it sits in the log, what it held and why it failed. Stores keep one per (group, topic,
 * partition, offset): writing the same letter again changes nothing.
 */
export interface DeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The record's key as `renderPayload` shows it (null: no key). */
  readonly key: string | null;
  /** The record's value as `renderPayload` shows it (null: a tombstone). */
  readonly value: string | null;
  /** The operator (or deserializer) that threw. */
  readonly operator: string;
  /** What it threw: the cause's message. */
  readonly error: string;
  /** How many times the batch ran with the record before it was set aside. */
  readonly attempts: number;
  /** The batch whose commit carries the dead letter. */
  readonly batchTimeMs: number;
}

/**
 * A record's key or value as a dead letter keeps it: a string as is, bytes (a `Buffer` or any
 * `Uint8Array`: a deserializer failed, or no deserializer was set) as `base64:` and their base64,
 * anything else as JSON (`String(value)` if it cannot be serialized); null and undefined as null.
 */
export function renderPayload(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return `base64:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The identity of a dead letter within its group: `topic:partition:offset`. */
export function deadLetterId(letter: Pick<DeadLetter, 'topic' | 'partition' | 'offset'>): string {
  return `${letter.topic}:${letter.partition}:${letter.offset}`;
}
