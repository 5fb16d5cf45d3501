/**
 * What the group offset store and the transactional sink share: the serialization of their
 * read-compare-commit within the process, and the wrapping of Kafka errors.
 */
import { AuthenticationError, ConfigError, DStreamError, driverError, OffsetStoreError, topicPartitionKey } from '@dstream/core';
import type { OffsetCommit, StoredOffsets, TopicPartition, TopicPartitionOffset } from '@dstream/core';

/** Work running per consumer group, so a second compare-and-set waits for the first one's write. */
const running = new Map<string, Promise<unknown>>();

/**
 * Runs `work` after every earlier `work` of the same group in this process has settled. Kafka has
 * no conditional offset commit, so a read-compare-commit is atomic only against writers that
 * wait their turn here; across processes, fencing comes from the group generation or the
 * transactional.id (see docs/stores/kafka.md).
 */
export function serializeByGroup<T>(group: string, work: () => Promise<T>): Promise<T> {
  const previous = running.get(group) ?? Promise.resolve();
  const result = previous.then(work, work);
  const settled = result.then(
    () => undefined,
    () => undefined,
  );
  running.set(group, settled);
  // Forget the group once nothing is queued behind this work, so the map does not grow with every group ever seen.
  void settled.then(() => {
    if (running.get(group) === settled) running.delete(group);
  });
  return result;
}

/** The partitions a commit touches. */
export function partitionsOf(commits: readonly OffsetCommit[]): TopicPartition[] {
  return commits.map(({ range }) => ({ topic: range.topic, partition: range.partition }));
}

/** What a commit writes: each range's `untilOffset`, the next offset to read. */
export function offsetsOf(commits: readonly OffsetCommit[]): TopicPartitionOffset[] {
  return commits.map(({ range }) => ({ topic: range.topic, partition: range.partition, offset: range.untilOffset }));
}

/** Committed offsets as `StoredOffsets`: negative offsets (nothing committed) are left out. */
export function toStoredOffsets(offsets: readonly TopicPartitionOffset[]): StoredOffsets {
  const stored = new Map<string, number>();
  for (const { topic, partition, offset } of offsets) {
    if (offset >= 0) stored.set(topicPartitionKey(topic, partition), offset);
  }
  return stored;
}

/**
 * Wraps a failure of the Kafka client (a core `KafkaError`) in an `OffsetStoreError` that keeps
 * it as `cause` and copies its `retriable` flag; dstream's own store errors pass through.
 */
export function toStoreError(store: string, what: string, error: unknown): DStreamError {
  // A refusal says what to fix on its own: callers check for it by class.
  if (error instanceof OffsetStoreError || error instanceof AuthenticationError || error instanceof ConfigError) return error;
  const retriable = error instanceof DStreamError && error.retriable;
  return new OffsetStoreError(store, `${what}: ${(error as Error)?.message ?? String(error)}`, {
    cause: driverError(error),
    retriable,
  });
}
