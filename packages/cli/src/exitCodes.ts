import { ConfigError, StaleOffsetError } from '@dstream/core';
import { GroupActiveError } from './offsets/GroupActiveError';

/**
 * The CLI's exit codes (docs/cli.md lists them): scripts tell a refused operation from a failed
 * one without parsing messages.
 */
export const ExitCode = {
  /** Done (a dry run that printed its plan included). */
  OK: 0,
  /** A store or Kafka failed, or anything else went wrong. */
  FAILED: 1,
  /** A flag or argument is wrong: the message names it, its value and the fix. */
  USAGE: 2,
  /** Refused: the consumer group has active members (pass --force to override). */
  GROUP_ACTIVE: 3,
  /** The stored offsets changed between read and write; nothing was written. */
  CONFLICT: 4,
} as const;

/** The exit code for an error a command raised. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError) return ExitCode.USAGE;
  if (error instanceof GroupActiveError) return ExitCode.GROUP_ACTIVE;
  if (error instanceof StaleOffsetError) return ExitCode.CONFLICT;
  return ExitCode.FAILED;
}
