/** Fetches the records of a batch's ranges from Kafka, reading ahead within a memory budget. */
import { KafkaError } from '../errors';
import { OffsetRange, TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { Clock } from '../util/Clock';
import { ClockSignal } from '../util/ClockSignal';
import type { Logger } from '../util/Logger';
import type { ConsumeResult, FetchedRecord, KafkaConsumerClient, RecordBuilder } from './KafkaClient';
import { type PartitionState, fileConsumeResult, firstAtOrAfter } from './partitionState';
import { RecordSizes } from './RecordSizes';

export { RECORD_OVERHEAD_BYTES } from './RecordSizes';

/** Tuning of a `PartitionFetcher`, and how it makes its records. */
export interface PartitionFetcherOptions<R extends FetchedRecord> {
  /** Makes each fetched record (e.g. deserialized) as the client hands it over; must not throw. */
  readonly build: RecordBuilder<R>;
  /**
   * Estimated bytes (see `RECORD_OVERHEAD_BYTES`) of records kept ahead of the batches being
   * taken, all partitions together, each partition an equal share. Once every partition's share is
   * full the fetcher stops taking records from the client, whose own queue
   * (`queued.max.messages.kbytes`) then holds what it prefetched; a partition whose read-ahead grows
   * to twice its share (it kept coming while another partition read what a batch needs) is paused.
   * Records a pending `take` still needs never count: a batch larger than this must complete.
   * 0: records are made only once a batch needs them (`readAheadBytesFor`).
   */
  readonly maxReadAheadBytes: number;
  /** Records kept ahead of the batches being taken, per partition, before that partition is paused; undefined: no record limit. */
  readonly maxBufferedPerPartition?: number;
  /** Longest `take` waits for a range's records. */
  readonly fetchTimeoutMs: number;
  /** Records asked for per `consume` call. */
  readonly pollBatchSize?: number;
  /** How long one `consume` call waits for records. */
  readonly pollTimeoutMs?: number;
  readonly logger: Logger;
  /** What fetch timeouts and retry pauses wait on: the context's clock (a `ManualClock` in tests). */
  readonly clock: Clock;
}

/** How long a `consume` waits for more records right after one that brought some (see `run`). */
const BRIEF_POLL_MS = 2;

/**
 * Records one `consume` asks for while no partition wants more (every read-ahead is full): the call
 * only serves the client's callbacks (a rebalance), so it brings next to nothing into memory.
 */
const HELD_POLL_RECORDS = 1;

/**
 * A partition is paused once its read-ahead reaches this many times its share of the budget. Below
 * that, a full read-ahead only stops the `consume` calls (records then wait in librdkafka's queue);
 * beyond it, records of a full partition keep coming because another partition still reads what a
 * batch needs, and the pause, which drops what librdkafka had prefetched of it, is the lesser cost.
 */
const PAUSE_FACTOR = 2;

/**
 * Fetches records of explicitly assigned partitions ahead of the batches that need them, with a
 * loop of non-flowing `consume(n)` calls (which also serves librdkafka's rebalance callbacks).
 * `take(range)` hands out exactly the records in [from, until) of one partition, in offset order;
 * later records stay buffered for the next batch, and a partition that has read far enough ahead
 * of the batches is paused until a batch needs more. A `take` that starts anywhere but where the
 * buffer is seeks first.
 */
export class PartitionFetcher<R extends FetchedRecord> {
  private readonly partitions = new Map<string, PartitionState<R>>();
  private readonly sizes = new RecordSizes();
  /** Fired after each `consume`: takes and streams waiting for records look again. */
  private readonly polled: ClockSignal;
  /** Ends the consume loop's wait while every read-ahead is full: a partition wants records again. */
  private readonly demanded: ClockSignal;
  private loop: Promise<void> | undefined;
  private isRunning = false;
  private failure: Error | undefined;
  /** Aborted by `stop`: ends a retry pause of the consume loop, which waits on the clock. */
  private readonly stopping = new AbortController();
  private readonly pollBatchSize: number;
  private readonly pollTimeoutMs: number;

  constructor(
    private readonly client: KafkaConsumerClient,
    private readonly options: PartitionFetcherOptions<R>,
  ) {
    // consume(10000) against consume(1000): fewer crossings into the binding and fewer wake-ups
    // of waiting takes per record (docs/benchmarks.md).
    this.pollBatchSize = options.pollBatchSize ?? 10_000;
    this.pollTimeoutMs = options.pollTimeoutMs ?? 100;
    this.polled = new ClockSignal(options.clock);
    this.demanded = new ClockSignal(options.clock);
  }

  /** Partitions the fetcher currently reads. */
  get assigned(): TopicPartition[] {
    return [...this.partitions.values()].map((state) => state.partition);
  }

  /** Starts the consume loop. Idempotent. */
  start(): void {
    if (this.isRunning) return;
    this.isRunning = true;
    this.loop = this.run();
  }

  /** Stops the loop after the `consume` in flight returns; pending `take`s reject. */
  async stop(): Promise<void> {
    this.isRunning = false;
    this.stopping.abort();
    this.demanded.fire();
    await this.loop;
    this.polled.fire();
  }

  /**
   * Starts reading these partitions at these offsets. The caller has already assigned them in the
   * client (at the same offsets).
   */
  add(positions: ReadonlyArray<TopicPartition & { offset: number }>): void {
    if (positions.length === 0) return;
    // librdkafka keeps a partition's pause across unassign and assign: a partition this member
    // paused before it last lost it would otherwise never be fetched again.
    this.resumeQuietly(positions.map(({ topic, partition }) => ({ topic, partition })));
    for (const { topic, partition, offset } of positions) {
      this.partitions.set(topicPartitionKey(topic, partition), {
        partition: { topic, partition },
        buffer: [],
        bufferStart: offset,
        readThrough: offset,
        seekTo: undefined,
        isPaused: false,
        neededUntil: offset,
        readAhead: 0,
      });
    }
    this.demanded.fire();
    this.polled.fire();
  }

  /**
   * Forgets these partitions and their buffers (revoked, or unassigned), resuming those it paused
   * so no pause outlives its owner in the client. Pending `take`s on them resolve empty-handed.
   */
  remove(partitions: readonly TopicPartition[]): void {
    const paused: TopicPartition[] = [];
    for (const { topic, partition } of partitions) {
      const key = topicPartitionKey(topic, partition);
      const state = this.partitions.get(key);
      if (state === undefined) continue;
      if (state.isPaused) paused.push(state.partition);
      this.partitions.delete(key);
    }
    if (paused.length > 0) this.resumeQuietly(paused);
    this.demanded.fire();
    this.polled.fire();
  }

  /**
   * Clears a pause the client may hold. A consumer that is closing, or a partition the client no
   * longer has, refuses with a state error: nothing is left paused then, so that is only logged.
   */
  private resumeQuietly(partitions: readonly TopicPartition[]): void {
    try {
      this.client.resume(partitions);
    } catch (error) {
      this.options.logger.debug(`resuming ${partitions.map((p) => `${p.topic}-${p.partition}`).join(', ')} failed`, { error });
    }
  }

  /**
   * Estimated bytes in memory of one record of this partition (key, value and
   * `RECORD_OVERHEAD_BYTES`), averaged over the records fetched lately; undefined before any was.
   */
  averageRecordBytes(partition: TopicPartition): number | undefined {
    return this.sizes.average(partition);
  }

  /** Whether the fetcher still reads this partition. */
  has(partition: TopicPartition): boolean {
    return this.partitions.has(topicPartitionKey(partition.topic, partition.partition));
  }

  /**
   * The records of `range`, in offset order, once every offset below `until` has been seen.
   * Resolves `undefined` if the partition is removed meanwhile (revoked in a rebalance). Rejects
   * with a retriable `KafkaError` after `fetchTimeoutMs`, or with the consume loop's failure.
   */
  async take(range: OffsetRange): Promise<R[] | undefined> {
    const key = range.key;
    let state = this.partitions.get(key);
    if (state === undefined) return undefined;
    if (range.fromOffset !== state.bufferStart) this.requestSeek(state, range.fromOffset);
    if (range.count === 0) return [];
    this.need(state, range.untilOffset);
    const { clock } = this.options;
    const deadline = clock.nowMs() + this.options.fetchTimeoutMs;
    for (;;) {
      if (this.failure) throw this.failure;
      state = this.partitions.get(key);
      if (state === undefined) return undefined;
      if (state.readThrough >= range.untilOffset) break;
      if (!this.isRunning) {
        throw new KafkaError(`fetching ${range} stopped: the stream is stopping`, { retriable: true });
      }
      const remainingMs = deadline - clock.nowMs();
      if (remainingMs <= 0) {
        throw new KafkaError(
          `timed out after ${this.options.fetchTimeoutMs} ms fetching ${range}: read up to offset ${state.readThrough}. ` +
            'The partition leader may be unreachable; raise fetchTimeoutMs if the brokers are just slow',
          { retriable: true },
        );
      }
      await this.polled.wait(remainingMs);
    }
    // Buffered records are in offset order, so the range is a prefix of the buffer.
    const end = firstAtOrAfter(state.buffer, range.untilOffset);
    let records: R[];
    if (end === state.buffer.length) {
      // The common case of a fetcher that kept up: hand the buffer over instead of copying it.
      records = state.buffer;
      state.buffer = [];
    } else {
      records = state.buffer.slice(0, end);
      state.buffer = state.buffer.slice(end);
    }
    state.bufferStart = range.untilOffset;
    this.countReadAhead(state);
    return records;
  }

  /**
   * Hands out the records of `ranges` (of distinct partitions) as they arrive, without keeping
   * them: `consume(range, records)` gets each partition's records in offset order, in chunks of
   * what one `consume` call of the client brought, partitions interleaved as they come in. What a
   * chunk held is the caller's to drop once `consume` returns, so memory follows the chunk, not
   * the ranges. Resolves once every range is complete, or its partition was removed or is no
   * longer `wanted` (a revoke; nothing more of it is handed out then). Rejects with a retriable
   * `KafkaError` when no range moved for `fetchTimeoutMs`, with the consume loop's failure, or with
   * what `consume` threw (the rest of the ranges is then left unread).
   */
  async stream(
    ranges: readonly OffsetRange[],
    consume: (range: OffsetRange, records: R[]) => void,
    wanted: (range: OffsetRange) => boolean = () => true,
  ): Promise<void> {
    const pending: OffsetRange[] = [];
    for (const range of ranges) {
      const state = this.partitions.get(range.key);
      if (state === undefined) continue;
      if (range.fromOffset !== state.bufferStart) this.requestSeek(state, range.fromOffset);
      if (range.count === 0) continue;
      this.need(state, range.untilOffset);
      pending.push(range);
    }
    const { clock, fetchTimeoutMs } = this.options;
    let deadline = clock.nowMs() + fetchTimeoutMs;
    while (pending.length > 0) {
      if (this.failure) throw this.failure;
      let hasMoved = false;
      for (let index = pending.length - 1; index >= 0; index--) {
        const range = pending[index];
        const state = this.partitions.get(range.key);
        if (state === undefined || !wanted(range)) {
          pending.splice(index, 1);
          continue;
        }
        if (state.seekTo !== undefined) continue;
        const through = Math.min(state.readThrough, range.untilOffset);
        if (through <= state.bufferStart) continue;
        // Everything below `through` was seen: hand out what of it is buffered (all below until).
        const end = firstAtOrAfter(state.buffer, through);
        const records = end === state.buffer.length ? state.buffer : state.buffer.slice(0, end);
        state.buffer = end === state.buffer.length ? [] : state.buffer.slice(end);
        state.bufferStart = through;
        hasMoved = true;
        if (through >= range.untilOffset) {
          pending.splice(index, 1);
          this.countReadAhead(state);
        }
        if (records.length > 0) consume(range, records);
      }
      if (pending.length === 0) break;
      if (hasMoved) deadline = clock.nowMs() + fetchTimeoutMs;
      if (!this.isRunning) {
        throw new KafkaError(`fetching ${pending.join(', ')} stopped: the stream is stopping`, { retriable: true });
      }
      const remainingMs = deadline - clock.nowMs();
      if (remainingMs <= 0) {
        const range = pending[0];
        throw new KafkaError(
          `timed out after ${fetchTimeoutMs} ms without a record of ${pending.join(', ')}: ${range} read up to offset ` +
            `${this.partitions.get(range.key)?.readThrough}. The partition leader may be unreachable; raise fetchTimeoutMs if the brokers are just slow`,
          { retriable: true },
        );
      }
      await this.polled.wait(remainingMs);
    }
  }

  /**
   * Records that a `take` needs everything below `untilOffset`: those records stop counting as
   * read-ahead, and a partition paused for a full buffer resumes if it has not read them yet.
   */
  private need(state: PartitionState<R>, untilOffset: number): void {
    if (untilOffset <= state.neededUntil) return;
    state.neededUntil = untilOffset;
    this.countReadAhead(state);
  }

  /** Recounts a partition's read-ahead and pauses or resumes it to keep that under the limit. */
  private countReadAhead(state: PartitionState<R>): void {
    state.readAhead = state.buffer.length - firstAtOrAfter(state.buffer, state.neededUntil);
    this.applyLimit(state);
  }

  /**
   * Pauses a partition once its read-ahead reaches `PAUSE_FACTOR` times its share of
   * `maxReadAheadBytes` (or `maxBufferedPerPartition` records), and resumes it when it drops below
   * its share. A partition that has not yet read what a pending `take` needs is never paused.
   */
  private applyLimit(state: PartitionState<R>): void {
    const isFull = this.isFull(state);
    const isPastLimit = this.readAheadShares(state) >= PAUSE_FACTOR || this.isOverRecordLimit(state);
    if (isPastLimit && isFull && !state.isPaused) {
      this.client.pause([state.partition]);
      state.isPaused = true;
    } else if (!isFull && state.isPaused && state.seekTo === undefined) {
      this.client.resume([state.partition]);
      state.isPaused = false;
    }
    if (!isFull) this.demanded.fire();
  }

  /** A partition's read-ahead in shares of `maxReadAheadBytes` (any record ahead is too many when that is 0). */
  private readAheadShares(state: PartitionState<R>): number {
    if (state.readAhead === 0) return 0;
    const { maxReadAheadBytes } = this.options;
    if (maxReadAheadBytes <= 0) return Infinity;
    const bytesPerRecord = this.averageRecordBytes(state.partition) ?? 0;
    return (state.readAhead * bytesPerRecord) / (maxReadAheadBytes / Math.max(1, this.partitions.size));
  }

  private isOverRecordLimit(state: PartitionState<R>): boolean {
    const { maxBufferedPerPartition } = this.options;
    return maxBufferedPerPartition !== undefined && state.readAhead >= maxBufferedPerPartition;
  }

  /** Whether a partition has read what the takes need and its read-ahead share is full. */
  private isFull(state: PartitionState<R>): boolean {
    return state.readThrough >= state.neededUntil && (this.readAheadShares(state) >= 1 || this.isOverRecordLimit(state));
  }

  /**
   * Whether the loop should take records: some partition wants them (a take waits for it, it is
   * seeking, or its read-ahead is not full), or none holds records back (all are paused, or none is
   * assigned: the loop then polls for the client's callbacks, and gets no records).
   */
  private wantsRecords(): boolean {
    let isHolding = false;
    for (const state of this.partitions.values()) {
      if (state.seekTo !== undefined) return true;
      if (state.isPaused) continue;
      if (!this.isFull(state)) return true;
      isHolding = true;
    }
    return !isHolding;
  }

  /**
   * Moves a partition's read position to `offset`, dropping what was buffered from elsewhere. The
   * seek itself happens in the fetch loop between two `consume` calls: a seek while a `consume`
   * runs could let that call return records from either position.
   */
  private requestSeek(state: PartitionState<R>, offset: number): void {
    this.options.logger.debug(`seeking ${state.partition.topic}-${state.partition.partition} to ${offset}`);
    state.buffer = [];
    state.bufferStart = offset;
    state.readThrough = offset;
    state.seekTo = offset;
    state.neededUntil = offset;
    state.readAhead = 0;
    this.demanded.fire();
  }

  /** Makes the seeks `take` asked for; a failed one is retried before the next `consume`. */
  private async seekPending(): Promise<void> {
    for (const state of this.partitions.values()) {
      const offset = state.seekTo;
      if (offset === undefined) continue;
      try {
        await this.client.seek({ ...state.partition, offset }, this.options.fetchTimeoutMs);
      } catch (error) {
        this.options.logger.warn(`seek of ${state.partition.topic}-${state.partition.partition} to ${offset} failed, retrying`, {
          error,
        });
        continue;
      }
      if (state.seekTo !== offset) continue;
      state.seekTo = undefined;
      if (state.isPaused) {
        this.client.resume([state.partition]);
        state.isPaused = false;
      }
    }
  }

  private async run(): Promise<void> {
    // node-rdkafka's consume(n) waits up to its timeout for *each* record, so a call that found
    // records would go on waiting at the end of the queue while they sit unprocessed. After a
    // call that brought records, the next waits only BRIEF_POLL_MS; after an empty one, the full
    // pollTimeoutMs, so an idle stream does not spin.
    //
    // While no partition wants records (every read-ahead is full), the loop waits for a take to
    // want some, polling only HELD_POLL_RECORDS every pollTimeoutMs so the client's callbacks (a
    // rebalance) are still served: the records wait in librdkafka's queue, which stops fetching
    // at its own bound. Pausing instead would drop what it had prefetched.
    let timeoutMs = this.pollTimeoutMs;
    while (this.isRunning) {
      await this.seekPending();
      let limit = this.pollBatchSize;
      if (!this.wantsRecords()) {
        await this.demanded.wait(this.pollTimeoutMs);
        if (!this.isRunning) break;
        if (!this.wantsRecords()) {
          limit = HELD_POLL_RECORDS;
          timeoutMs = 0;
        }
      }
      let result: ConsumeResult<R>;
      try {
        result = await this.client.consume(limit, timeoutMs, this.options.build);
        timeoutMs = result.messages.length > 0 ? Math.min(BRIEF_POLL_MS, this.pollTimeoutMs) : this.pollTimeoutMs;
      } catch (error) {
        const kafkaError = error as KafkaError;
        if (kafkaError.isFatal) {
          this.failure = kafkaError;
          this.isRunning = false;
        } else {
          // Transient fetch errors (a broker restart, a leader move) are retried by librdkafka
          // on the next consume; surfacing them would fail batches that would succeed.
          this.options.logger.warn(`consume failed, retrying: ${kafkaError.message}`);
          // An error can come back at once (an unreachable leader): pace the retries.
          const { clock } = this.options;
          await clock.waitUntil(clock.nowMs() + this.pollTimeoutMs, this.stopping.signal).catch(() => undefined);
        }
        this.polled.fire();
        continue;
      }
      this.accept(result);
      this.polled.fire();
    }
  }

  /** Files a consume result into the partitions' buffers and applies the read-ahead limits. */
  private accept(result: ConsumeResult<R>): void {
    fileConsumeResult(this.partitions, this.sizes, result);
    for (const state of this.partitions.values()) {
      if (state.seekTo === undefined) this.applyLimit(state);
    }
  }
}
