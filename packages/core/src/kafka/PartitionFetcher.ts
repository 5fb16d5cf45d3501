/** Fetches the records of a batch's ranges from Kafka, reading ahead within a memory budget. */
import { KafkaError } from '../errors';
import { OffsetRange, TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { Clock } from '../util/Clock';
import type { Logger } from '../util/Logger';
import type { ConsumeResult, FetchedRecord, KafkaConsumerClient, RecordBuilder } from './KafkaClient';

/** Tuning of a `PartitionFetcher`, and how it makes its records. */
export interface PartitionFetcherOptions<R extends FetchedRecord> {
  /** Makes each fetched record (e.g. deserialized) as the client hands it over; must not throw. */
  readonly build: RecordBuilder<R>;
  /**
   * Estimated bytes (see `RECORD_OVERHEAD_BYTES`) of records kept ahead of the batches being
   * taken, all partitions together: each partition may read ahead an equal share before it is
   * paused. Records a pending `take` still needs never count: a batch larger than this must complete.
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

/**
 * What a fetched record is reckoned to cost in memory beyond its key and value bytes: the record
 * object, the deserialized value's string header or Buffer view, the key's Buffer view on pooled
 * memory (`compactBuffer`), and the garbage collector's slack. Measured: ~460 bytes of resident
 * memory per record of a 10-byte key and a 100-byte string value (docs/benchmarks.md); it keeps
 * byte budgets honest for small records.
 */
export const RECORD_OVERHEAD_BYTES = 350;

/** How long a `consume` waits for more records right after one that brought some (see `run`). */
const BRIEF_POLL_MS = 2;

/** Records' size seen lately on one partition, for `averageRecordBytes`. */
interface SizeEstimate {
  bytes: number;
  records: number;
}

/** Halving the totals past this many records lets the average follow a change in record size. */
const SIZE_WINDOW_RECORDS = 20_000;

/** One assigned partition's read state. */
interface PartitionState<R extends FetchedRecord> {
  readonly partition: TopicPartition;
  /** Fetched records at or after `bufferStart`, in offset order. */
  buffer: R[];
  /** The offset the buffer starts at: everything before it was handed out or skipped. */
  bufferStart: number;
  /**
   * Every offset below this has been seen (as a record, or passed over: a compaction gap, a
   * transaction marker, or the log end). A range is complete once this reaches its `until`.
   */
  readThrough: number;
  /**
   * A seek the fetch loop must make before its next `consume`. While set, records arriving for the
   * partition come from the old position (a `consume` already in flight) and are dropped.
   */
  seekTo: number | undefined;
  isPaused: boolean;
  /**
   * The `until` of the furthest range a `take` is waiting for (or took): records below it are what
   * a batch needs, records at or above it are read-ahead, the only ones the buffer limit bounds.
   */
  neededUntil: number;
  /** Buffered records at or after `neededUntil`. */
  readAhead: number;
}

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
  /** Per partition ever read (revoked ones too: a partition's records keep their size when it comes back). */
  private readonly sizes = new Map<string, SizeEstimate>();
  private readonly waiters = new Set<() => void>();
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
    await this.loop;
    this.wake();
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
    this.wake();
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
    this.wake();
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
    const size = this.sizes.get(topicPartitionKey(partition.topic, partition.partition));
    return size === undefined || size.records === 0 ? undefined : size.bytes / size.records;
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
      await this.nextPoll(remainingMs);
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
      await this.nextPoll(remainingMs);
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
   * Pauses a partition once its read-ahead reaches its share of `maxReadAheadBytes` (or
   * `maxBufferedPerPartition` records), and resumes it when it drops below. A partition that has
   * not yet read what a pending `take` needs is never paused.
   */
  private applyLimit(state: PartitionState<R>): void {
    const { maxReadAheadBytes, maxBufferedPerPartition } = this.options;
    const bytesPerRecord = this.averageRecordBytes(state.partition) ?? 0;
    const isOverLimit =
      state.readAhead * bytesPerRecord >= maxReadAheadBytes / Math.max(1, this.partitions.size) ||
      (maxBufferedPerPartition !== undefined && state.readAhead >= maxBufferedPerPartition);
    const isFull = isOverLimit && state.readThrough >= state.neededUntil;
    if (isFull && !state.isPaused) {
      this.client.pause([state.partition]);
      state.isPaused = true;
    } else if (!isFull && state.isPaused && state.seekTo === undefined) {
      this.client.resume([state.partition]);
      state.isPaused = false;
    }
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
    let timeoutMs = this.pollTimeoutMs;
    while (this.isRunning) {
      await this.seekPending();
      let result: ConsumeResult<R>;
      try {
        result = await this.client.consume(this.pollBatchSize, timeoutMs, this.options.build);
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
        this.wake();
        continue;
      }
      this.accept(result);
      this.wake();
    }
  }

  /** Files a consume result into the partitions' buffers. */
  private accept(result: ConsumeResult<R>): void {
    const { messages, sizes } = result;
    let state: PartitionState<R> | undefined;
    let size: SizeEstimate | undefined;
    let lastTopic: string | undefined;
    let lastPartition = -1;
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index];
      // A consume result comes in runs of one partition's records: look its state up once per run.
      if (message.partition !== lastPartition || message.topic !== lastTopic) {
        lastTopic = message.topic;
        lastPartition = message.partition;
        const key = topicPartitionKey(message.topic, message.partition);
        state = this.partitions.get(key);
        size = this.sizeOf(key);
      }
      if (state === undefined || state.seekTo !== undefined) continue;
      // Already seen: drop rather than deliver twice.
      if (message.offset < state.readThrough) continue;
      state.buffer.push(message);
      state.readThrough = message.offset + 1;
      if (message.offset >= state.neededUntil) state.readAhead++;
      size!.bytes += sizes[index] + RECORD_OVERHEAD_BYTES;
      size!.records++;
    }
    for (const end of result.endsReached) {
      const key = topicPartitionKey(end.topic, end.partition);
      const state = this.partitions.get(key);
      if (state === undefined || state.seekTo !== undefined) continue;
      // At the log end every lower offset has been delivered or was never a record (a
      // transaction marker, a compacted record), so the range may be complete without a record at until-1.
      if (end.offset > state.readThrough) state.readThrough = end.offset;
    }
    for (const state of this.partitions.values()) {
      if (state.seekTo === undefined) this.applyLimit(state);
    }
  }

  private sizeOf(key: string): SizeEstimate {
    let size = this.sizes.get(key);
    if (size === undefined) {
      size = { bytes: 0, records: 0 };
      this.sizes.set(key, size);
    } else if (size.records >= SIZE_WINDOW_RECORDS) {
      size.bytes /= 2;
      size.records /= 2;
    }
    return size;
  }

  /** Resolves after the next consume returns, or after `timeoutMs` on the clock, whichever is first. */
  private nextPoll(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = new AbortController();
      const done = (): void => {
        timer.abort();
        resolve();
      };
      const { clock } = this.options;
      clock.waitUntil(clock.nowMs() + timeoutMs, timer.signal).then(done, () => undefined);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter();
  }
}

/** The index of the first buffered record at or after `offset` (buffers are in offset order). */
function firstAtOrAfter(buffer: readonly FetchedRecord[], offset: number): number {
  let low = 0;
  let high = buffer.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (buffer[middle].offset < offset) low = middle + 1;
    else high = middle;
  }
  return low;
}
