import { RecordProcessingError } from '../errors';

/**
 * Wraps what a user function threw as `RecordProcessingError`, naming the operator and, when
 * `record` is a Kafka consumer record (string `topic`, numeric `partition` and `offset`), where
 * in the log it sits, so the failing record can be found and inspected. `isSourceRecord` says
 * that `record` is the very record read from Kafka (not a look-alike an operator built), which
 * lets a dead-letter policy set it aside.
 */
export function userFunctionError(
  operator: string,
  cause: unknown,
  record?: unknown,
  isSourceRecord = false,
): RecordProcessingError {
  if (typeof record === 'object' && record !== null) {
    const { topic, partition, offset } = record as { topic?: unknown; partition?: unknown; offset?: unknown };
    if (typeof topic === 'string' && typeof partition === 'number' && typeof offset === 'number') {
      return new RecordProcessingError(operator, cause, { topic, partition, offset, isSourceRecord });
    }
  }
  return new RecordProcessingError(operator, cause);
}
