import { OffsetStoreError, StaleOffsetError } from '../errors';
import { type DeadLetter, deadLetterId } from './DeadLetter';
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
 * transactions, dead letters), no durability. `data` holds what transactions wrote, dead letters
 * under `deadletters:<group>:<topic>:<partition>:<offset>`.
 *
 * @example
 * const store = new InMemoryOffsetStore();
 * await store.transaction('g', commits, async (tx) => tx.set('word:kafka', 3));
 * store.data.get('word:kafka'); // 3
 */
const DEAD_LETTER_PREFIX = 'deadletters:';

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

  async writeDeadLetters(group: string, letters: readonly DeadLetter[], tx?: InMemoryTransaction): Promise<void> {
    for (const letter of letters) {
      const key = `${DEAD_LETTER_PREFIX}${group}:${deadLetterId(letter)}`;
      // The first letter of a record stays, as in the other stores.
      if (this.data.has(key)) continue;
      if (tx === undefined) this.data.set(key, letter);
      else tx.set(key, letter);
    }
  }

  async loadDeadLetters(group: string): Promise<DeadLetter[]> {
    const prefix = `${DEAD_LETTER_PREFIX}${group}:`;
    const letters: DeadLetter[] = [];
    for (const [key, value] of this.data) if (key.startsWith(prefix)) letters.push(value as DeadLetter);
    return letters.sort(
      (a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset),
    );
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
