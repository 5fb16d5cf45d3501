/**
 * Keeps track of which partitions a stream's member owns across group rebalances, and hands
 * batches their partitions: ownership tokens, where each partition is planned from next, what the
 * store holds for it, the running batch's claim, the drain of that claim on a revoke, and the
 * fencing of a batch that outlasts `revokeTimeoutMs`.
 */
import { DStreamError, KafkaError } from '../errors';
import { OffsetRange, TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { OffsetCommit } from '../offsets/OffsetStore';
import type { Clock } from '../util/Clock';
import type { ResolvedDirectStreamOptions } from './DirectStreamOptions';
import type { FetchedRecord, KafkaConsumerClient, RebalanceEvent, TopicPartitionOffset } from './KafkaClient';
import type { PartitionFetcher } from './PartitionFetcher';
import type { StartOffsets, StartReason } from './StartOffsets';
import type { StatePersistence } from '../state/StatePersistence';
import { raceAbort } from '../util/raceAbort';
import { awaitWorkerJoin } from '../workers/workerJoin';

/** Default `session.timeout.ms`: how long a dead member holds its partitions. */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

/** A running batch's hold on its partitions: a revoke of one of them waits for `done`. */
export interface Claim {
  /** Without partitions dropped before the batch handed its records out (see `drain`). */
  ranges: readonly OffsetRange[];
  readonly keys: Set<string>;
  /** What the store held for each claimed partition when the batch started: the commits' expected offsets. */
  readonly expected: ReadonlyMap<string, number | null>;
  /** Partitions given up while the batch ran (a revoke that outwaited `revokeTimeoutMs`): the batch must not commit. */
  readonly fenced: Set<string>;
  /**
   * Whether a revoked partition may be dropped from the batch while its records are not read yet
   * (`runBatch` sets it once the batch's commits are known; they are read before any commit).
   */
  canDrop: boolean;
  /** Set once the batch read its records: from then on its partitions stay claimed. */
  isDelivered: boolean;
  /** The commits `runBatch` will make, which a dropped partition leaves. */
  commits: OffsetCommit[] | undefined;
  /**
   * While the batch streams its records (`DirectKafkaInputDStream.streamBatch`): the offset up to
   * which each claimed partition's records went to the outputs. A revoke meanwhile ends the
   * partition's range there (`cut`) instead of dropping it: what the outputs saw is committed, and
   * the next owner starts after it.
   */
  streamedThrough: Map<string, number> | undefined;
  /** Partitions whose range a revoke ended where the streamed records had reached. */
  readonly cut: Set<string>;
  readonly done: Promise<void>;
}

/**
 * One member's partitions. Every assignment of a partition gets a new token, so a batch planned
 * before a revoke can tell that a partition is no longer its to commit. A revoke first stops the
 * partitions being planned, then lets a running batch that reads them finish and commit (up to
 * `revokeTimeoutMs`), and only then gives them up, so the next owner loads what this member
 * committed and no range is committed by a member that no longer owns it.
 *
 * Both rebalance protocols work: the eager one of librdkafka's default assignors (every rebalance
 * reloads every partition's offset from the store) and the incremental one of
 * `cooperative-sticky`, where partitions that stay keep their buffers.
 */
export class PartitionOwnership {
  /** Partitions owned, each with the token of its current assignment. */
  private readonly owned = new Map<string, number>();
  private nextToken = 1;
  /** The next offset to plan from, per owned partition whose start is known. */
  private readonly current = new Map<string, number>();
  /** What the offset store holds for each owned partition (null: nothing): a commit's expected offset. */
  private readonly stored = new Map<string, number | null>();
  private rebalances: Promise<void> = Promise.resolve();
  /** The batch running now, if it holds partitions. */
  private running: (Claim & { finish(): void }) | undefined;
  private rebalanceFailure: Error | undefined;

  constructor(
    private readonly name: string,
    private readonly client: KafkaConsumerClient,
    private readonly fetcher: Pick<PartitionFetcher<FetchedRecord>, 'start' | 'add' | 'remove'>,
    private readonly starts: StartOffsets,
    private readonly options: ResolvedDirectStreamOptions<unknown, unknown>,
    private readonly clock: Clock,
    /** The state kept per source partition: loaded for partitions gained, dropped for partitions given up. */
    private readonly state?: Pick<StatePersistence, 'loadPartitions' | 'dropPartitions'>,
  ) {}

  /** The failure of a rebalance, if one failed: every batch from then on fails with it. */
  get failure(): Error | undefined {
    return this.rebalanceFailure;
  }

  /** Takes the strategy's partitions (`Assign`), from where `StartOffsets` says, and starts fetching. */
  async assign(partitions: readonly TopicPartition[]): Promise<void> {
    const { positions, stored } = await this.starts.resolve(partitions, 'start');
    await this.state?.loadPartitions(positions.map((p) => topicPartitionKey(p.topic, p.partition)));
    this.client.assign(positions);
    this.own(positions, stored);
    this.fetcher.start();
  }

  /**
   * Joins the group for `topics` and waits for its first assignment, at most `connectTimeoutMs`
   * plus the session timeout on the clock. Aborting `signal` ends the wait with its reason.
   */
  async subscribe(topics: ReadonlyArray<string | RegExp>, signal: AbortSignal | undefined): Promise<void> {
    const { connectTimeoutMs, kafkaParams, groupId, brokers, logger } = this.options;
    // Under runWorkers, the workers join the group together (workers/workerJoin.ts).
    await awaitWorkerJoin(this.clock, logger, signal);
    let firstAssignment!: () => void;
    const assigned = new Promise<void>((resolve) => (firstAssignment = resolve));
    let isFirst = true;
    this.client.subscribe(topics, (event) => {
      const reason = isFirst ? 'start' : 'assigned';
      if (event.type === 'assign') isFirst = false;
      this.rebalances = this.rebalances
        .then(() => this.rebalance(event, reason))
        .catch((error: unknown) => {
          this.rebalanceFailure ??= error instanceof Error ? error : new DStreamError(String(error));
          logger.error(`${this.name}: rebalance failed; the next batch fails`, { error });
        })
        .finally(() => {
          if (event.type === 'assign') firstAssignment();
        });
    });
    // The fetch loop's consume calls are what deliver the group's rebalance callbacks.
    this.fetcher.start();
    // Joining waits out a dead member's session (session.timeout.ms, 45 s by default) before
    // its partitions are handed out, so the bound adds that to the connect timeout.
    const sessionMs = Number(kafkaParams['session.timeout.ms'] ?? DEFAULT_SESSION_TIMEOUT_MS);
    const boundMs = connectTimeoutMs + sessionMs;
    const bound = new AbortController();
    try {
      const timedOut = this.clock.waitUntil(this.clock.nowMs() + boundMs, bound.signal).then(
        () => {
          throw new KafkaError(
            `no partition assignment from group ${groupId} at ${brokers} within ${boundMs} ms. ` +
              'Check that the brokers are up and the group coordinator is reachable',
            { retriable: true },
          );
        },
        // Aborted once the race is decided: the other side's outcome stands.
        () => new Promise<never>(() => undefined),
      );
      await raceAbort(Promise.race([assigned, timedOut]), signal);
    } finally {
      bound.abort();
    }
    if (this.rebalanceFailure) throw this.rebalanceFailure;
  }

  /** Waits for the rebalances under way, e.g. before the consumer disconnects. */
  settled(): Promise<void> {
    return this.rebalances.catch(() => undefined);
  }

  /** Owned partitions whose next offset is known, by key, with their tokens: what a batch may plan. */
  plannable(): Map<string, number> {
    const tokens = new Map<string, number>();
    for (const [key, token] of this.owned) if (this.current.has(key)) tokens.set(key, token);
    return tokens;
  }

  /** The next offset of partition `key`, if it is still owned under `token`; undefined if a rebalance moved it. */
  nextOffset(key: string, token: number | undefined): number | undefined {
    return this.owned.get(key) === token ? this.current.get(key) : undefined;
  }

  /**
   * Records that partition `key` is planned up to `untilOffset`: the next batch starts there. A
   * partition re-owned since it was planned under `token` (a rebalance, or a re-plan after a
   * refused commit) keeps the start that gave it.
   */
  advance(key: string, untilOffset: number, token: number | undefined): void {
    if (this.owned.get(key) === token) this.current.set(key, untilOffset);
  }

  /**
   * Plans the ranges' partitions still owned under `tokens` again from `stored` (what the store
   * holds; a partition with nothing stored from its range's start), under new tokens, so batches
   * planned before do not claim them. Returns them as `topic-partition@offset`.
   */
  replan(ranges: readonly OffsetRange[], tokens: ReadonlyMap<string, number>, stored: ReadonlyMap<string, number>): string[] {
    const replanned: string[] = [];
    for (const range of ranges) {
      // Revoked meanwhile: the next owner loads the partition itself.
      if (this.owned.get(range.key) !== tokens.get(range.key)) continue;
      const offset = stored.get(range.key);
      const from = offset ?? range.fromOffset;
      this.owned.set(range.key, this.nextToken++);
      this.current.set(range.key, from);
      this.stored.set(range.key, offset ?? null);
      replanned.push(`${range.topic}-${range.partition}@${from}`);
    }
    return replanned;
  }

  /** The start of `claim`'s range of partition `key`. */
  private fromOf(claim: Claim, key: string): number {
    return claim.ranges.find((range) => range.key === key)?.fromOffset ?? -1;
  }

  /**
   * After a batch whose ranges a revoke ended early (`Claim.cut`) committed: the partitions it
   * keeps are planned again from where their ranges ended, under new tokens, so batches planned
   * before (from the ranges' old ends) do not claim them and nothing between is skipped.
   */
  replanCut(claim: Claim, tokens: ReadonlyMap<string, number>): string[] {
    const cut = claim.ranges.filter((range) => claim.cut.has(range.key));
    return this.replan(cut, tokens, new Map(cut.map((range) => [range.key, range.untilOffset])));
  }

  /** Whether partition `key` is still owned under `token`. */
  isOwned(key: string, token: number | undefined): boolean {
    return this.owned.get(key) === token;
  }

  /**
   * Fixes which of a batch's ranges it delivers and commits: those whose partitions are still
   * owned under the token they were planned with. While the batch runs (until `finish`), a revoke
   * of one of them waits for it.
   */
  claim(ranges: readonly OffsetRange[], tokens: ReadonlyMap<string, number>): Claim & { finish(): void } {
    const claimed = ranges.filter((range) => this.owned.get(range.key) === tokens.get(range.key));
    const expected = new Map<string, number | null>();
    for (const range of claimed) expected.set(range.key, this.stored.get(range.key) ?? null);
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const claim: Claim & { finish(): void } = {
      ranges: claimed,
      keys: new Set(claimed.map((range) => range.key)),
      expected,
      fenced: new Set(),
      canDrop: false,
      isDelivered: false,
      commits: undefined,
      streamedThrough: undefined,
      cut: new Set(),
      done,
      finish: () => {
        if (this.running === claim) this.running = undefined;
        finish();
      },
    };
    return claim;
  }

  /** Marks `claim` as the batch running now: revokes of its partitions wait for its `finish`. */
  run(claim: Claim & { finish(): void }): void {
    this.running = claim;
  }

  /** Notes a batch's commit: the store now holds each range's end, for partitions still owned under the batch's tokens. */
  committed(ranges: readonly OffsetRange[], tokens: ReadonlyMap<string, number>): void {
    for (const range of ranges) {
      if (this.owned.get(range.key) === tokens.get(range.key)) this.stored.set(range.key, range.untilOffset);
    }
  }

  /**
   * Handles one group rebalance event; events run one after another. A batch that outlasts the
   * drain of a revoke is fenced: it fails instead of committing, and under exactly-once its
   * transaction aborts with its outputs' writes.
   */
  private async rebalance(event: RebalanceEvent, reason: StartReason): Promise<void> {
    const client = this.client;
    const isCooperative = client.rebalanceProtocol() === 'COOPERATIVE';
    if (event.type === 'revoke') {
      const keys = new Set(event.partitions.map((p) => topicPartitionKey(p.topic, p.partition)));
      for (const key of keys) {
        this.owned.delete(key);
        this.current.delete(key);
      }
      this.options.logger.info(`${this.name}: partitions revoked`, { partitions: event.partitions.map(describe) });
      try {
        await this.drain(keys);
      } finally {
        for (const key of keys) this.stored.delete(key);
        // The batch that read them ended (or is fenced off them): their state is the next owner's.
        this.state?.dropPartitions(keys);
        // Resumes what read-ahead paused: librdkafka keeps a pause across unassign and assign.
        this.fetcher.remove(event.partitions);
        // Always answered: librdkafka (and a closing consumer) waits for the unassign.
        if (isCooperative) client.incrementalUnassign(event.partitions);
        else client.unassign();
      }
      return;
    }
    const { positions, stored } = await this.starts.resolve(event.partitions, reason);
    // Their state is in memory before any batch plans them.
    await this.state?.loadPartitions(positions.map((p) => topicPartitionKey(p.topic, p.partition)));
    if (isCooperative) client.incrementalAssign(positions);
    else client.assign(positions);
    this.own(positions, stored);
    this.options.logger.info(`${this.name}: partitions assigned`, { partitions: positions.map(describe) });
  }

  /** Waits for the running batch, if it reads any of `keys`, to end; past `revokeTimeoutMs` it is fenced off them. */
  private async drain(keys: ReadonlySet<string>): Promise<void> {
    const claim = this.running;
    if (claim === undefined || ![...keys].some((key) => claim.keys.has(key))) return;
    if (claim.canDrop && !claim.isDelivered) {
      // The batch is still reading its records. While a revoke waits for the application,
      // librdkafka delivers no records (of the revoked partitions, nor, in practice, of the
      // others), so a batch waiting for records and a revoke waiting for the batch would block
      // each other until revokeTimeoutMs. So the batch stops reading. A batch that streams its
      // records (`streamedThrough`) ends every range where its records reached: it commits what
      // its outputs saw, partitions it keeps are planned again from there once it committed
      // (`replanCut`), and the revoke waits for that commit. Otherwise, or for a revoked partition
      // none of whose records reached the outputs, the revoked partitions are dropped: their next
      // owner reads them.
      const streamed = claim.streamedThrough;
      const dropped = new Set(
        [...keys].filter((key) => claim.keys.has(key) && (streamed === undefined || (streamed.get(key) ?? -1) <= this.fromOf(claim, key))),
      );
      for (const key of dropped) claim.keys.delete(key);
      claim.ranges = claim.ranges.filter((range) => !dropped.has(range.key));
      const cuts = new Map<string, OffsetRange>();
      if (streamed !== undefined) {
        for (const range of claim.ranges) {
          const through = Math.min(Math.max(streamed.get(range.key) ?? range.fromOffset, range.fromOffset), range.untilOffset);
          cuts.set(range.key, OffsetRange.create(range.topic, range.partition, range.fromOffset, through));
          claim.cut.add(range.key);
        }
        claim.ranges = claim.ranges.map((range) => cuts.get(range.key) ?? range);
      }
      if (claim.commits !== undefined) {
        const kept = claim.commits
          .filter(({ range }) => !dropped.has(range.key))
          .map((commit) => (cuts.has(commit.range.key) ? { ...commit, range: cuts.get(commit.range.key)! } : commit));
        claim.commits.splice(0, claim.commits.length, ...kept);
      }
      if (dropped.size > 0) {
        this.options.logger.info(`${this.name}: the running batch gives up revoked partitions it had not delivered yet`, {
          partitions: [...dropped],
        });
      }
      if (cuts.size === 0) return;
      this.options.logger.info(`${this.name}: the running batch ends its ranges where its streamed records reached`, {
        ranges: [...cuts.values()].map(String),
      });
    }
    const { revokeTimeoutMs, logger } = this.options;
    logger.info(`${this.name}: waiting up to ${revokeTimeoutMs} ms for the running batch to commit revoked partitions`);
    const timer = new AbortController();
    const hasEnded = await Promise.race([
      claim.done.then(() => true),
      this.clock.waitUntil(this.clock.nowMs() + revokeTimeoutMs, timer.signal).then(
        () => false,
        () => true,
      ),
    ]);
    timer.abort();
    if (hasEnded) return;
    for (const key of keys) if (claim.keys.has(key)) claim.fenced.add(key);
    logger.warn(
      `${this.name}: the running batch did not finish within revokeTimeoutMs (${revokeTimeoutMs} ms); ` +
        'it will fail instead of committing partitions this member gave up',
    );
  }

  /** Marks partitions as owned from these offsets on, with what the store holds for each, and starts fetching them. */
  private own(positions: readonly TopicPartitionOffset[], stored: ReadonlyMap<string, number | null>): void {
    for (const { topic, partition, offset } of positions) {
      const key = topicPartitionKey(topic, partition);
      this.owned.set(key, this.nextToken++);
      this.current.set(key, offset);
      this.stored.set(key, stored.get(key) ?? null);
    }
    this.fetcher.add(positions);
  }
}

function describe(p: TopicPartition & { offset?: number }): string {
  return p.offset === undefined ? `${p.topic}-${p.partition}` : `${p.topic}-${p.partition}@${p.offset}`;
}
