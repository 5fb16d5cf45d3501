/**
 * Checks of flag values, each failing with a `ConfigError` that names the flag, the value and the
 * fix, before any connection is made.
 */
import { ConfigError } from '@dstream/core';

/** Commander's collector for a repeatable flag (`--topic a --topic b`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A required flag's value. */
export function requireFlag(flag: string, value: string | undefined, example: string): string {
  if (value === undefined || value.trim() === '') {
    throw new ConfigError(flag, value, 'is required', `Pass e.g. ${flag} ${example}.`);
  }
  return value;
}

/** An integer flag within [min, max]. */
export function parseInteger(flag: string, value: string, min = Number.MIN_SAFE_INTEGER, example = '100'): number {
  const number = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min) {
    const rule = min === 0 ? 'must be a non-negative integer' : min === 1 ? 'must be a positive integer' : 'must be an integer';
    throw new ConfigError(flag, value, rule, `Pass e.g. ${flag} ${example}.`);
  }
  return number;
}

/** An ISO 8601 date-time with a time zone (`2026-12-01T10:00:00Z`) or milliseconds since the epoch. */
export function parseDatetime(flag: string, value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(value);
  const time = hasZone ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(time)) {
    throw new ConfigError(
      flag,
      value,
      'must be an ISO 8601 date-time with a time zone, or milliseconds since the epoch',
      `Pass e.g. ${flag} 2026-12-01T10:00:00Z or ${flag} 2026-12-01T11:00:00+01:00.`,
    );
  }
  return time;
}

/** A comma-separated list of partition numbers (`0,1,5`), deduplicated and sorted. */
export function parsePartitionList(flag: string, value: string): number[] {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.some((part) => !/^\d+$/.test(part))) {
    throw new ConfigError(flag, value, 'must be a comma-separated list of partition numbers', `Pass e.g. ${flag} 0,1,2.`);
  }
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}
