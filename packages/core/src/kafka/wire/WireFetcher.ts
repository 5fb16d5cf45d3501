/**
 * Reads assigned partitions from their leaders with Kafka's Fetch API, in JavaScript, and hands
 * out their records with the `consume` contract of a `KafkaConsumerClient`. Why not librdkafka's fetcher: node-rdkafka turns every message into a JavaScript object with two
 * freshly allocated Buffers on the main thread, ~4-7 µs a record, which capped a job at about a
 * third of KafkaJS's rate (docs/benchmarks.md). Here a fetch response stays one Buffer; records are
 * decoded from it only when `consume` asks for them, with keys and values as views into it.
 *
 * One fetch loop per leader keeps one request in flight for the assigned partitions whose
 * undelivered bytes are under their share of `queueBytes`: memory stays bounded in bytes whatever
 * the backlog, and the next response is on its way while the job processes the last. A pause only
 * stops handing a partition's records out: it still fills its share with raw bytes (the cheapest
 * read-ahead), and its fetches keep the log bounds batches are planned from fresh.
 */
import { KafkaError } from '../../errors';
import type { Logger } from '../../util/Logger';
import { topicPartitionKey } from '../../offsets/OffsetRange';
import type { TopicPartition } from '../../offsets/OffsetRange';
import type {
  ConsumeResult,
  FetchedRecord,
  RecordBuilder,
  TopicPartitionOffset,
  WatermarkOffsets,
} from '../kafkaCapabilities';
import type { BrokerAddress } from './BrokerConnection';
import { BrokerFetchLoop, RETRY_BACKOFF_MS } from './BrokerFetchLoop';
import { FetchedRecords, UnsupportedRecordFormatError } from './FetchedRecords';
import type { FetchPartitionResponse } from './fetchProtocol';
import { positionOf, type WirePartition } from './WirePartition';

export type { WirePartition } from './WirePartition';

/** Where each partition's leader is, as cluster metadata says. */
export interface LeaderMap {
  readonly brokers: ReadonlyMap<number, BrokerAddress>;
  /** `topicPartitionKey` to the leader's broker id (-1: none right now). */
  readonly leaders: ReadonlyMap<string, number>;
}

/** What the fetcher needs to know of its surroundings. */
export interface WireFetcherOptions {
  /** Reads the leaders of these topics' partitions (cluster metadata). */
  readonly lookUpLeaders: (topics: readonly string[]) => Promise<LeaderMap>;
  readonly clientId: string;
  readonly isReadCommitted: boolean;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly partitionMaxBytes: number;
  /** Fetched bytes not yet consumed, across partitions, above which no partition is fetched more. */
  readonly queueBytes: number;
  readonly connectTimeoutMs: number;
  /** How long a fetch may take beyond `maxWaitMs` before its connection is dropped. */
  readonly requestTimeoutMs: number;
  readonly logger?: Logger;
  /** Told once when a broker or the data needs what this fetcher cannot do (another client takes over). */
  readonly onUnsupported: (reason: string) => void;
}

/** Kafka error codes after which the leader is looked up again: the partition moved, or is moving. */
const LEADER_CODES = new Set([
  3 /* UNKNOWN_TOPIC_OR_PARTITION */, 5 /* LEADER_NOT_AVAILABLE */, 6 /* NOT_LEADER_OR_FOLLOWER */,
  9 /* REPLICA_NOT_AVAILABLE */, 56 /* KAFKA_STORAGE_ERROR */, 74 /* FENCED_LEADER_EPOCH */,
  75 /* UNKNOWN_LEADER_EPOCH */, 78 /* OFFSET_NOT_AVAILABLE */, 100 /* UNKNOWN_TOPIC_ID */,
]);
const OFFSET_OUT_OF_RANGE = 1;
const ERROR_BACKOFF_MS = 1000;
/** The least a fetch asks for, in all and per partition, however full the queue or many the partitions. */
const MIN_FETCH_BYTES = 64 * 1024;
/** A fresh metadata read is asked at most this often. */
const LEADER_REFRESH_MS = 250;

/** Fetches assigned partitions from their leaders; see the file comment. */
export class WireFetcher {
  private readonly partitions = new Map<string, WirePartition>();
  private readonly loops = new Map<number, BrokerFetchLoop>();
  private leaders = new Map<string, number>();
  private brokers = new Map<number, BrokerAddress>();
  private leaderLookup: Promise<void> | undefined;
  private lastLookupMs = 0;
  /** Failures for `consume` to throw, each once, unless their partition was moved or unassigned since. */
  private failures: Array<{ readonly error: KafkaError; readonly state: WirePartition; readonly generation: number }> = [];
  /** Set once `onUnsupported` was told: nothing is fetched from then on. */
  private isUnsupported = false;
  private readonly arrivalWaiters = new Set<() => void>();
  /** Where the next `consume` starts taking, so no partition is always served last. */
  private nextStart = 0;
  private isClosed = false;

  constructor(private readonly options: WireFetcherOptions) {}

  /** Replaces the assignment: partitions fetched from the given offsets. */
  assign(positions: readonly TopicPartitionOffset[]): void {
    const keep = new Set(positions.map((p) => topicPartitionKey(p.topic, p.partition)));
    for (const key of [...this.partitions.keys()]) if (!keep.has(key)) this.partitions.delete(key);
    this.incrementalAssign(positions);
  }

  incrementalAssign(positions: readonly TopicPartitionOffset[]): void {
    for (const { topic, partition, offset } of positions) {
      const key = topicPartitionKey(topic, partition);
      const state = this.partitions.get(key) ?? this.add(topic, partition, key);
      this.moveTo(state, offset);
    }
    this.refreshLeaders();
    this.wakeLoops();
  }

  incrementalUnassign(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) this.partitions.delete(topicPartitionKey(topic, partition));
  }

  unassign(): void {
    this.partitions.clear();
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const state of this.statesOf(partitions)) state.isPaused = true;
  }

  /** Resumes handing out these partitions' records: a `consume` waiting meanwhile gets what they hold at once. */
  resume(partitions: readonly TopicPartition[]): void {
    let hasRecords = false;
    for (const state of this.statesOf(partitions)) {
      state.isPaused = false;
      if (state.segments.length > 0 || state.hasEndToReport) hasRecords = true;
    }
    this.wakeLoops();
    if (hasRecords) this.wakeConsumers();
  }

  /** Moves a partition's position; what was fetched from the old one is dropped. */
  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    const state = this.partitions.get(topicPartitionKey(topic, partition));
    if (state === undefined) {
      throw new KafkaError(`seek ${topic}-${partition} to ${offset}: the partition is not assigned`);
    }
    this.moveTo(state, offset);
    this.wakeLoops();
  }

  /** The next offset `consume` returns (or skips) for each partition; -1001 when not assigned. */
  position(partitions: readonly TopicPartition[]): TopicPartitionOffset[] {
    return partitions.map(({ topic, partition }) => {
      const state = this.partitions.get(topicPartitionKey(topic, partition));
      return { topic, partition, offset: state === undefined ? -1001 : positionOf(state) };
    });
  }

  /** The log bounds the partition's last fetch response reported (`high`: the last stable offset under read_committed). */
  cachedWatermarkOffsets({ topic, partition }: TopicPartition): WatermarkOffsets | undefined {
    return this.partitions.get(topicPartitionKey(topic, partition))?.watermarks;
  }

  /** Every assigned partition with its position, for another client to go on from. */
  positions(): Array<TopicPartitionOffset & { readonly isPaused: boolean }> {
    return [...this.partitions.values()].map((s) => ({
      topic: s.topic,
      partition: s.partition,
      offset: positionOf(s),
      isPaused: s.isPaused,
    }));
  }

  /**
   * Up to `maxMessages` records of unpaused partitions, waiting up to `timeoutMs` for the first,
   * with the partitions found at their log end. Throws (once) a failure a fetch met.
   */
  async consume<R extends FetchedRecord>(maxMessages: number, timeoutMs: number, build: RecordBuilder<R>): Promise<ConsumeResult<R>> {
    this.throwFailure();
    let result = this.take(maxMessages, build);
    if (result.messages.length === 0 && result.endsReached.length === 0 && timeoutMs > 0) {
      await this.arrival(timeoutMs);
      this.throwFailure();
      result = this.take(maxMessages, build);
    }
    return result;
  }

  /** Stops every fetch loop and closes the connections. */
  close(): void {
    this.isClosed = true;
    this.partitions.clear();
    for (const loop of this.loops.values()) loop.stop();
    this.loops.clear();
    this.wakeConsumers();
  }

  private add(topic: string, partition: number, key: string): WirePartition {
    const state: WirePartition = {
      topic,
      partition,
      key,
      fetchOffset: 0,
      segments: [],
      bufferedBytes: 0,
      isPaused: false,
      generation: 0,
      isInFlight: false,
      watermarks: undefined,
      hasEndToReport: false,
      retryAtMs: 0,
      reportedEndAt: -1,
    };
    this.partitions.set(key, state);
    return state;
  }

  private moveTo(state: WirePartition, offset: number): void {
    state.fetchOffset = offset;
    state.segments = [];
    state.bufferedBytes = 0;
    state.generation++;
    state.hasEndToReport = false;
    state.retryAtMs = 0;
    state.reportedEndAt = -1;
  }

  private statesOf(partitions: readonly TopicPartition[]): WirePartition[] {
    const states: WirePartition[] = [];
    for (const { topic, partition } of partitions) {
      const state = this.partitions.get(topicPartitionKey(topic, partition));
      if (state !== undefined) states.push(state);
    }
    return states;
  }

  private throwFailure(): void {
    while (this.failures.length > 0) {
      const { error, state, generation } = this.failures.shift()!;
      if (this.partitions.get(state.key) === state && state.generation === generation) throw error;
    }
  }

  private take<R extends FetchedRecord>(maxMessages: number, build: RecordBuilder<R>): ConsumeResult<R> {
    const messages: R[] = [];
    const sizes: number[] = [];
    const endsReached: TopicPartitionOffset[] = [];
    const states = [...this.partitions.values()];
    const count = states.length;
    let hasFreed = false;
    for (let i = 0; i < count && messages.length < maxMessages; i++) {
      const state = states[(this.nextStart + i) % count];
      if (state.isPaused) continue;
      while (state.segments.length > 0 && messages.length < maxMessages) {
        const segment = state.segments[0];
        segment.read(maxMessages - messages.length, build, messages, sizes);
        if (!segment.isDone) break;
        state.segments.shift();
        state.bufferedBytes -= segment.bytes;
        hasFreed = true;
      }
    }
    this.nextStart = count === 0 ? 0 : (this.nextStart + 1) % count;
    for (const state of states) {
      if (state.hasEndToReport && !state.isPaused && state.segments.length === 0) {
        state.hasEndToReport = false;
        endsReached.push({ topic: state.topic, partition: state.partition, offset: state.fetchOffset });
      }
    }
    if (hasFreed) this.wakeLoops();
    return { messages, sizes, endsReached };
  }

  /** Resolves at the next arrival of records, an end or a failure, or after `timeoutMs`. */
  private arrival(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.arrivalWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.arrivalWaiters.add(done);
    });
  }

  private wakeConsumers(): void {
    for (const waiter of [...this.arrivalWaiters]) waiter();
  }

  /** Starts a loop for every leader with partitions to fetch, and wakes the idle ones. */
  private wakeLoops(): void {
    if (this.isClosed || this.isUnsupported) return;
    for (const state of this.partitions.values()) {
      const leader = this.leaders.get(state.key);
      if (leader === undefined || leader < 0 || this.loops.has(leader)) continue;
      const address = this.brokers.get(leader);
      if (address === undefined) continue;
      const loop = new BrokerFetchLoop(leader, address, this);
      this.loops.set(leader, loop);
      loop.run().finally(() => {
        if (this.loops.get(leader) !== loop) return;
        this.loops.delete(leader);
        // Partitions of this leader assigned while the loop was ending get a new loop.
        this.wakeLoops();
      });
    }
    for (const loop of this.loops.values()) loop.wake();
  }

  /** Reads the leaders again (at most every LEADER_REFRESH_MS, one read at a time), then wakes the loops. */
  refreshLeaders(): void {
    if (this.leaderLookup !== undefined || this.isClosed) return;
    const waitMs = Math.max(0, this.lastLookupMs + LEADER_REFRESH_MS - Date.now());
    this.leaderLookup = new Promise<void>((resolve) => setTimeout(resolve, waitMs))
      .then(async () => {
        this.lastLookupMs = Date.now();
        const topics = [...new Set([...this.partitions.values()].map((s) => s.topic))];
        if (topics.length === 0) return;
        const { brokers, leaders } = await this.options.lookUpLeaders(topics);
        this.brokers = new Map(brokers);
        this.leaders = new Map(leaders);
      })
      .catch((error: unknown) => {
        this.options.logger?.warn(`could not read partition leaders, retrying: ${(error as Error).message}`);
      })
      .finally(() => {
        this.leaderLookup = undefined;
        if (this.isClosed) return;
        // A partition still without a leader is looked up again.
        const isMissing = [...this.partitions.values()].some((s) => !((this.leaders.get(s.key) ?? -1) >= 0));
        if (isMissing) this.refreshLeaders();
        this.wakeLoops();
      });
  }

  /** The partitions `broker` should be asked for now, rotated so each gets to be first (Kafka fills partitions in request order). */
  partitionsToFetch(broker: number, rotation: number): WirePartition[] {
    const nowMs = Date.now();
    const share = this.options.queueBytes / Math.max(1, this.partitions.size);
    const due: WirePartition[] = [];
    for (const state of this.partitions.values()) {
      if (state.isInFlight || state.retryAtMs > nowMs) continue;
      if (this.leaders.get(state.key) !== broker) continue;
      if (state.bufferedBytes >= Math.max(share, 1)) continue;
      due.push(state);
    }
    if (due.length > 1) {
      const shift = rotation % due.length;
      return [...due.slice(shift), ...due.slice(0, shift)];
    }
    return due;
  }

  /**
   * The byte limits of the next fetch: what is left of `queueBytes`, at most an eighth of it, and
   * a partition's share of it, never below MIN_FETCH_BYTES and never above the configured limits.
   * With many partitions, each asking `partitionMaxBytes` (1 MiB by default) would let one
   * response bring far more than the queue's bound. A response is freed only once its last record
   * was taken: smaller ones are freed sooner, mostly before V8 promotes them (a word count peaked
   * 2–13 MB lower with responses of 1 MiB than of up to 8 MiB; docs/benchmarks.md). A broker
   * still returns the first partition's first record batch whole, so a large record is never stuck.
   */
  fetchLimits(): { readonly maxBytes: number; readonly partitionMaxBytes: number } {
    const { queueBytes, maxBytes, partitionMaxBytes } = this.options;
    let buffered = 0;
    for (const state of this.partitions.values()) buffered += state.bufferedBytes;
    const share = Math.ceil(queueBytes / Math.max(1, this.partitions.size));
    return {
      maxBytes: Math.min(maxBytes, Math.max(MIN_FETCH_BYTES, Math.min(queueBytes - buffered, Math.ceil(queueBytes / 8)))),
      partitionMaxBytes: Math.min(partitionMaxBytes, Math.max(MIN_FETCH_BYTES, share)),
    };
  }

  /** Whether any partition on `broker` will want fetching later (so its loop should stay). */
  hasPartitionsOn(broker: number): boolean {
    if (this.isClosed || this.isUnsupported) return false;
    for (const state of this.partitions.values()) if (this.leaders.get(state.key) === broker) return true;
    return false;
  }

  /** The earliest retry time among `broker`'s partitions that wait out an error, if any. */
  nextRetryMs(broker: number): number | undefined {
    let earliest: number | undefined;
    for (const state of this.partitions.values()) {
      if (this.leaders.get(state.key) !== broker || state.retryAtMs <= Date.now()) continue;
      earliest = earliest === undefined ? state.retryAtMs : Math.min(earliest, state.retryAtMs);
    }
    return earliest;
  }

  get fetchOptions(): WireFetcherOptions {
    return this.options;
  }

  /** Tells `onUnsupported` once, and stops fetching: another client takes over. */
  unsupported(reason: string): void {
    if (this.isUnsupported) return;
    this.isUnsupported = true;
    this.options.onUnsupported(reason);
  }

  /** Files a fetch response: records, bounds, and what its errors call for. */
  accept(
    sent: ReadonlyArray<{ readonly state: WirePartition; readonly generation: number; readonly offset: number }>,
    responses: readonly FetchPartitionResponse[],
  ): void {
    const byKey = new Map<string, FetchPartitionResponse>();
    for (const response of responses) byKey.set(topicPartitionKey(response.topic, response.partition), response);
    let hasArrived = false;
    for (const { state, generation, offset } of sent) {
      state.isInFlight = false;
      const response = byKey.get(state.key);
      // Unassigned meanwhile, or moved by a seek: the answer is for a position no one wants.
      if (response === undefined || this.partitions.get(state.key) !== state || state.generation !== generation) continue;
      if (response.errorCode !== 0) {
        this.onPartitionError(state, response);
        continue;
      }
      const high = this.options.isReadCommitted && response.lastStableOffset >= 0 ? response.lastStableOffset : response.highWatermark;
      if (high >= 0 && response.logStartOffset >= 0) state.watermarks = { low: response.logStartOffset, high };
      if (response.records.length > 0) {
        let records: FetchedRecords;
        try {
          records = new FetchedRecords(
            state.topic,
            state.partition,
            response.records,
            offset,
            this.options.isReadCommitted,
            response.abortedTransactions,
          );
        } catch (error) {
          if (!(error instanceof UnsupportedRecordFormatError)) throw error;
          this.unsupported(
            `${state.topic}-${state.partition} holds a record batch at offset ${error.offset} that the built-in fetcher cannot decode (${error.reason})`,
          );
          continue;
        }
        if (records.endOffset > offset) {
          state.segments.push(records);
          state.bufferedBytes += records.bytes;
          state.fetchOffset = records.endOffset;
          hasArrived = true;
        }
      }
      // Reported once per arrival at the end, as librdkafka's partition EOF is.
      if (high >= 0 && state.fetchOffset >= high && state.reportedEndAt !== state.fetchOffset) {
        state.reportedEndAt = state.fetchOffset;
        state.hasEndToReport = true;
        hasArrived = true;
      }
    }
    if (hasArrived) this.wakeConsumers();
  }

  /** A fetch of these partitions failed as a whole (the connection): they are fetched again after a while. */
  failed(sent: ReadonlyArray<{ readonly state: WirePartition }>): void {
    for (const { state } of sent) {
      state.isInFlight = false;
      state.retryAtMs = Date.now() + RETRY_BACKOFF_MS;
    }
    this.refreshLeaders();
  }

  private onPartitionError(state: WirePartition, response: FetchPartitionResponse): void {
    const { errorCode } = response;
    if (LEADER_CODES.has(errorCode)) {
      state.retryAtMs = Date.now() + RETRY_BACKOFF_MS;
      this.options.logger?.debug(`fetch of ${state.key}: leader error ${errorCode}; looking up the leader`);
      this.leaders.delete(state.key);
      this.refreshLeaders();
      return;
    }
    // Not something a retry soon would change (an offset out of range, an authorization): reported
    // to consume, and asked again only after a pause, so the report does not repeat every fetch.
    state.retryAtMs = Date.now() + ERROR_BACKOFF_MS;
    const where = `${state.topic}-${state.partition} at offset ${state.fetchOffset}`;
    // A broker answering with an error sends no bounds (-1), so the message names only the offset.
    const message =
      errorCode === OFFSET_OUT_OF_RANGE
        ? `fetch of ${where}: offset out of range (the log no longer or not yet holds it)`
        : `fetch of ${where} failed (Kafka error code ${errorCode})`;
    this.failures.push({ error: new KafkaError(message, { code: errorCode, retriable: false }), state, generation: state.generation });
    this.wakeConsumers();
  }

}
