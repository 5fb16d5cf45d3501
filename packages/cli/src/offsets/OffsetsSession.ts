import { OffsetRange, topicPartitionKey } from '@dstream/core';
import type { OffsetCommit, OffsetStore, StoredOffsets, TopicPartition } from '@dstream/core';
import type { CliIO } from '../CliIO';
import type { GroupDescription } from '../kafka/describeGroup';
import { KafkaCluster } from '../kafka/KafkaCluster';
import { Progress } from '../output/Progress';
import type { StoreLocation } from '../stores/storeFromUrl';
import { GroupActiveError } from './GroupActiveError';
import type { OffsetChange } from './OffsetChange';
import { isWrite } from './OffsetChange';

/** The Kafka cluster the CLI reads when nothing else names one. */
export const DEFAULT_BOOTSTRAP_SERVERS = '127.0.0.1:9092';

/** Partitions read in one `load` call, so a progress bar can move on big groups. */
const LOAD_CHUNK = 500;

/** What a liveness check found: the group, or why it was not checked (`--force`, or a failure while only reading). */
export type Liveness =
  | { readonly checked: true; readonly group: GroupDescription }
  | { readonly checked: false; readonly reason: string };

/**
 * The resources one offsets command uses (stores, the Kafka cluster), opened on demand and all
 * released by `close`, with the steps every command shares: listing a group's stored
 * partitions, checking that no job owns the group, and writing a plan with compare-and-set.
 */
export class OffsetsSession {
  readonly cluster: KafkaCluster;
  private readonly stores: OffsetStore[] = [];

  constructor(
    readonly io: CliIO,
    bootstrapServers: string,
    readonly timeoutMs: number,
  ) {
    this.cluster = new KafkaCluster(bootstrapServers, timeoutMs);
  }

  /** The Kafka brokers to read: the flag, else a `kafka://` store's brokers, else the loopback default. */
  static bootstrapServers(flag: string | undefined, ...locations: StoreLocation[]): string {
    return flag ?? locations.find((location) => location.brokers !== undefined)?.brokers ?? DEFAULT_BOOTSTRAP_SERVERS;
  }

  /** Builds and connects the store at `location`; closed with the session. */
  async open(location: StoreLocation, options: { mustExist: boolean }): Promise<OffsetStore> {
    const store = location.create({ ...options, timeoutMs: this.timeoutMs });
    this.stores.push(store);
    await store.connect();
    return store;
  }

  /**
   * The partitions to work on and what `store` holds for them: every partition of `topics`, or
   * (no topics) every partition of every topic for which the group has something stored. The
   * store is asked about partitions the cluster's metadata lists, since `OffsetStore.load`
   * answers for named partitions only.
   */
  async storedPartitions(
    store: OffsetStore,
    group: string,
    topics: readonly string[] | undefined,
  ): Promise<{ partitions: TopicPartition[]; stored: StoredOffsets }> {
    const candidates = await this.cluster.partitions(topics);
    const stored = await this.load(store, group, candidates);
    if (topics !== undefined) return { partitions: candidates, stored };
    // Whole topics: a partition with nothing stored beside stored ones is worth showing.
    const withOffsets = new Set(candidates.filter((p) => stored.has(topicPartitionKey(p.topic, p.partition))).map((p) => p.topic));
    return { partitions: candidates.filter((p) => withOffsets.has(p.topic)), stored };
  }

  /** `store.load` in chunks, with a progress bar when there are many partitions. */
  async load(store: OffsetStore, group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    const progress = new Progress(this.io.err, `reading ${store.name} offsets`, partitions.length);
    const stored = new Map<string, number>();
    for (let start = 0; start < partitions.length; start += LOAD_CHUNK) {
      const chunk = partitions.slice(start, start + LOAD_CHUNK);
      for (const [key, offset] of await store.load(group, chunk)) stored.set(key, offset);
      for (let i = 0; i < chunk.length; i++) progress.tick();
    }
    progress.done();
    return stored;
  }

  /**
   * Describes the group in Kafka (unless `force`), and when `isWriting` refuses with
   * `GroupActiveError` while it has members: a running job would overwrite the change or, worse,
   * have its next commit refused as stale.
   */
  async liveness(group: string, options: { force: boolean; isWriting: boolean }): Promise<Liveness> {
    if (options.force) return { checked: false, reason: '--force' };
    let description: GroupDescription;
    try {
      description = await this.cluster.describeGroup(group);
    } catch (error) {
      // A read goes on without knowing; a write must not.
      if (options.isWriting) throw error;
      return { checked: false, reason: (error as Error).message };
    }
    if (options.isWriting && description.members.length > 0) throw new GroupActiveError(description);
    return { checked: true, group: description };
  }

  /**
   * Writes every change that moves an offset in one compare-and-set commit: each partition's
   * write succeeds only if the store still holds the `current` offset the plan was made from, so
   * a change made by anyone since the plan was read fails with `StaleOffsetError` and writes
   * nothing (atomically across partitions where the store allows it).
   */
  async write(store: OffsetStore, group: string, changes: readonly OffsetChange[]): Promise<number> {
    const commits: OffsetCommit[] = changes.filter(isWrite).map((change) => ({
      // A reset may move an offset backwards: the range is the empty one at the target, since a
      // commit stores its range's untilOffset and checks only expectedOffset.
      range: OffsetRange.create(change.topic, change.partition, change.target as number, change.target as number),
      expectedOffset: change.current,
    }));
    if (commits.length > 0) await store.commit(group, commits);
    return commits.length;
  }

  /** Closes every store opened and the Kafka connection. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.stores.map((store) => store.close()), this.cluster.close()]);
  }
}

/** One line about the group's liveness, for plans and `show`. */
export function describeLiveness(liveness: Liveness): string {
  if (!liveness.checked) {
    return liveness.reason === '--force' ? 'group liveness not checked (--force)' : `group liveness unknown: ${liveness.reason}`;
  }
  const { state, members } = liveness.group;
  return `group state ${state}, ${members.length} active member(s)`;
}
