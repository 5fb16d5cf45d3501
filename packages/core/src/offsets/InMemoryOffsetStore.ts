import { OffsetStoreError } from '../errors';
import { decodeStateMeta, decodeStateRecord, encodeStateWrite, STATE_META_FIELD } from '../state/storedStateCodec';
import { type DeadLetter, deadLetterId } from './DeadLetter';
import { LoadedState, OffsetCommit, OffsetStore, StateWrite, StoredOffsets } from './OffsetStore';
import { TopicPartition, topicPartitionKey } from './OffsetRange';
import { checkExpectedOffsets } from './expectedOffsets';
import { StoreClient } from './StoreClient';

/**
 * The writes an `InMemoryOffsetStore` transaction stages: applied to `store.data` together with
 * the offsets, or dropped together with them.
 */
export interface InMemoryTransaction {
  set(key: string, value: unknown): void;
}

/**
 * An offset store in process memory, for tests and examples: the full contract (compare-and-set,
 * transactions, state kept with the offsets, dead letters), no durability. `data` holds what
 * transactions wrote, dead letters under `deadletters:<group>:<topic>:<partition>:<offset>`. State
 * is kept encoded as the stores that write text keep it (see `storedStateCodec`), so state that
 * would not survive JSON fails here too.
 *
 * @example
 * const store = new InMemoryOffsetStore();
 * await store.connect();
 * await store.transaction('g', commits, async (tx) => tx.set('word:kafka', 3));
 * store.data.get('word:kafka'); // 3
 */
const DEAD_LETTER_PREFIX = 'deadletters:';

export class InMemoryOffsetStore implements OffsetStore<InMemoryTransaction> {
  readonly name = 'memory';
  readonly supportsTransactions = true;
  readonly supportsState = true;
  /** Values written through transactions, by key. */
  readonly data: Map<string, unknown>;
  private readonly offsets: Map<string, Map<string, number>>;
  /** Encoded state fields by group, then operator. */
  private readonly states: Map<string, Map<string, Map<string, string>>>;
  private failuresLeft = 0;
  /**
   * Holds no connection, so it is usable from construction (tests seed it before a stream
   * connects it), but keeps the rest of every store's life cycle: no use after close.
   */
  private readonly client = new StoreClient<void>({ store: this.name, address: 'process memory', acquire: async () => undefined, release: async () => undefined });

  /**
   * A new store, or with `sharing`, a new instance on the same memory as that store (what a
   * second process on the same backend would be): closing one leaves the other open.
   */
  constructor(sharing?: InMemoryOffsetStore) {
    this.data = sharing?.data ?? new Map();
    this.offsets = sharing?.offsets ?? new Map();
    this.states = sharing?.states ?? new Map();
  }

  connect(): Promise<void> {
    return this.client.connect();
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** Makes the next `count` commits or transactions fail with a retriable error (for failure tests). */
  failNextCommits(count: number): void {
    this.failuresLeft = count;
  }

  async writeDeadLetters(group: string, letters: readonly DeadLetter[], tx?: InMemoryTransaction): Promise<void> {
    this.client.assertNotClosed();
    for (const letter of letters) {
      const key = `${DEAD_LETTER_PREFIX}${group}:${deadLetterId(letter)}`;
      // The first letter of a record stays, as in the other stores.
      if (this.data.has(key)) continue;
      if (tx === undefined) this.data.set(key, letter);
      else tx.set(key, letter);
    }
  }

  async loadDeadLetters(group: string): Promise<DeadLetter[]> {
    this.client.assertNotClosed();
    const prefix = `${DEAD_LETTER_PREFIX}${group}:`;
    const letters: DeadLetter[] = [];
    for (const [key, value] of this.data) if (key.startsWith(prefix)) letters.push(value as DeadLetter);
    return letters.sort(
      (a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset),
    );
  }

  async load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    this.client.assertNotClosed();
    const stored = this.offsets.get(group);
    const result = new Map<string, number>();
    for (const { topic, partition } of partitions) {
      const key = topicPartitionKey(topic, partition);
      const offset = stored?.get(key);
      if (offset !== undefined) result.set(key, offset);
    }
    return result;
  }

  async commit(group: string, commits: readonly OffsetCommit[], state?: StateWrite): Promise<void> {
    await this.transaction(group, commits, async () => undefined, state === undefined ? undefined : () => state);
  }

  async loadState(group: string, operator: string): Promise<LoadedState | undefined> {
    this.client.assertNotClosed();
    const fields = this.states.get(group)?.get(operator);
    const meta = fields?.get(STATE_META_FIELD);
    if (fields === undefined || meta === undefined) return undefined;
    const entries: (readonly [unknown, unknown])[] = [];
    for (const [field, text] of fields) if (field !== STATE_META_FIELD) entries.push(decodeStateRecord(operator, text));
    return { ...decodeStateMeta(operator, meta), entries };
  }

  async listState(group: string): Promise<string[]> {
    this.client.assertNotClosed();
    return [...(this.states.get(group)?.keys() ?? [])].sort();
  }

  async deleteState(group: string, operator: string): Promise<void> {
    this.client.assertNotClosed();
    this.states.get(group)?.delete(operator);
  }

  async transaction<T>(
    group: string,
    commits: readonly OffsetCommit[],
    work: (tx: InMemoryTransaction) => Promise<T>,
    state?: () => StateWrite,
  ): Promise<T> {
    this.client.assertNotClosed();
    const staged = new Map<string, unknown>();
    const result = await work({ set: (key, value) => void staged.set(key, value) });
    const stateWrites = (state?.() ?? []).map((write) => ({ operator: write.operator, ...encodeStateWrite(write) }));
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new OffsetStoreError(this.name, 'injected commit failure', { retriable: true });
    }
    const stored = this.offsets.get(group) ?? new Map<string, number>();
    checkExpectedOffsets(this.name, group, commits, stored);
    for (const { range } of commits) stored.set(range.key, range.untilOffset);
    this.offsets.set(group, stored);
    for (const [key, value] of staged) this.data.set(key, value);
    const groupState = this.states.get(group) ?? new Map<string, Map<string, string>>();
    this.states.set(group, groupState);
    for (const { operator, set, remove } of stateWrites) {
      const fields = groupState.get(operator) ?? new Map<string, string>();
      groupState.set(operator, fields);
      for (const [field, text] of set) fields.set(field, text);
      for (const field of remove) fields.delete(field);
    }
    return result;
  }
}
