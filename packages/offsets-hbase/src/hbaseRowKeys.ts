/**
 * Row keys of the HBase store (the group row, the history rows as Spark Streaming jobs key them),
 * and the checks of the names and options that go into them: each refuses with a `ConfigError`
 * naming the option, the value and the fix.
 */
import { ConfigError } from '@dstream/core';

/** Kafka's legal topic characters. */
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
/** Batch times are written with 13 digits so that history rows sort by time. */
export const TIME_DIGITS = 13;

/**
 * A group or topic as a row-key part: characters outside `[A-Za-z0-9._-]` percent-encoded
 * (UTF-8), so that `:` separates the parts unambiguously and keys need no escaping in URLs.
 */
export function encodeKeyPart(value: string): string {
  return Array.from(new TextEncoder().encode(value), (byte) => {
    const c = String.fromCharCode(byte);
    return /[A-Za-z0-9._-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

/** Row key of a group's latest offsets. */
export function groupRowKey(group: string): string {
  checkGroup(group);
  return `group:${encodeKeyPart(group)}`;
}

/** Prefix of the history rows of a topic and group (`<topic>:<group>:`), as Spark Streaming jobs key them. */
export function historyPrefix(group: string, topic: string): string {
  checkGroup(group);
  return `${encodeKeyPart(topic)}:${encodeKeyPart(group)}:`;
}

/** A batch time as the last part of a history row key: zero-padded so rows sort by time. */
export function pad(time: number): string {
  return String(time).padStart(TIME_DIGITS, '0');
}

export function toBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function fromBase64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8');
}

export function checkUrl(value: unknown): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.search !== '' || parsed.hash !== '') {
    throw new ConfigError(
      'url',
      value,
      "must be the http(s) URL of HBase's REST gateway, without query or fragment",
      'Pass e.g. "http://127.0.0.1:8080" (start the gateway with `hbase rest start -p 8080`).',
    );
  }
  return String(value).replace(/\/+$/, '');
}

export function checkCount(option: string, value: unknown, minimum: number, fix: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    throw new ConfigError(option, value, `must be an integer >= ${minimum}`, fix);
  }
  return value;
}

export function checkGroup(group: unknown): void {
  if (typeof group !== 'string' || group === '') {
    throw new ConfigError('group', group, 'must be a non-empty string', 'Pass the consumer group id of the job.');
  }
}

export function checkTopic(topic: unknown): void {
  if (typeof topic !== 'string' || !TOPIC.test(topic)) {
    throw new ConfigError('topic', topic, 'must be a Kafka topic name (1 to 249 of letters, digits, ".", "_" and "-")', 'Rename the topic.');
  }
}
