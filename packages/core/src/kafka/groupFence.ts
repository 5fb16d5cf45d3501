/** Telling a commit the consumer group refused because this member's generation is over. */
import { KafkaError } from '../errors';

/**
 * Codes of a group commit refused because the member's generation is over: ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID (REBALANCE_IN_PROGRESS is retried as transient).
 */
const GROUP_FENCE_CODES = new Set([22, 25, 82]);

/** The `KafkaError` behind `error` that says the group fenced this member's commit, if one does. */
export function groupFenceOf(error: unknown): KafkaError | undefined {
  return causeOf(error, KafkaError, (e) => e.code !== undefined && GROUP_FENCE_CODES.has(e.code));
}

/** The error of class `type` (matching `test`) behind `error`: itself, or one in its `cause` chain. */
export function causeOf<E extends Error>(
  error: unknown,
  type: abstract new (...args: never[]) => E,
  test: (e: E) => boolean = () => true,
): E | undefined {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (current instanceof type && test(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
