import { OffsetStoreError, StaleOffsetError } from '../errors';
import { OffsetCommit, OffsetStore, StoredOffsets } from './OffsetStore';
import { TopicPartition, topicPartitionKey } from './OffsetRange';

/**
 * The writes an `InMemoryOffsetStore` transaction stages: applied to `store.data` together with
 * the offsets, or dropped together with them.
 */
export interface InMemoryTransaction {
  set(key: string, value: unknown): void;
}

/**
 * An offset store in process memory, for tests and examples: the full contract (compare-and-set,
 * transactions), no durability. `data` holds what transactions wrote.
 *
 * @example
 * const store = new InMemoryOffsetStore();
 * await store.transaction('g', commits, async (tx) => tx.set('word:kafka', 3));
 * store.data.get('word:kafka'); // 3
 */
export class InMemoryOffsetStore implements OffsetStore<InMemoryTransaction> {
  readonly name = 'memory';
  readonly supportsTransactions = true;
  /** Values written through transactions, by key. */
  readonly data = new Map<string, unknown>();
  private readonly offsets = new Map<string, Map<string, number>>();
  private failuresLeft = 0;

  async connect(): Promise<void> {}

  async close(): Promise<void> {}

  /** Makes the next `count` commits or transactions fail with a retriable error (for failure tests). */
  failNextCommits(count: number): void {
    this.failuresLeft = count;
  }

  async load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    const stored = this.offsets.get(group);
    const result = new Map<string, number>();
    for (const { topic, partition } of partitions) {
      const key = topicPartitionKey(topic, partition);
      const offset = stored?.get(key);
      if (offset !== undefined) result.set(key, offset);
    }
    return result;
  }

  async commit(group: string, commits: readonly OffsetCommit[]): Promise<void> {
    await this.transaction(group, commits, async () => undefined);
  }

  async transaction<T>(
    group: string,
    commits: readonly OffsetCommit[],
    work: (tx: InMemoryTransaction) => Promise<T>,
  ): Promise<T> {
    const staged = new Map<string, unknown>();
    const result = await work({ set: (key, value) => void staged.set(key, value) });
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new OffsetStoreError(this.name, 'injected commit failure', { retriable: true });
    }
    const stored = this.offsets.get(group) ?? new Map<string, number>();
    for (const { range, expectedOffset } of commits) {
      const actual = stored.get(range.key) ?? null;
      if (actual !== expectedOffset) {
        throw new StaleOffsetError(this.name, group, range.topic, range.partition, expectedOffset, actual);
      }
    }
    for (const { range } of commits) stored.set(range.key, range.untilOffset);
    this.offsets.set(group, stored);
    for (const [key, value] of staged) this.data.set(key, value);
    return result;
  }
}
