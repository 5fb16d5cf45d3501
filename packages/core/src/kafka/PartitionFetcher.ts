import { KafkaError } from '../errors';
import { OffsetRange, TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { Logger } from '../util/Logger';
import type { ConsumeResult, KafkaConsumerClient, KafkaMessage } from './KafkaClient';

/** Tuning of a `PartitionFetcher`. */
export interface PartitionFetcherOptions {
  /** Records kept ahead of the current batch per partition before that partition is paused. */
  readonly maxBufferedPerPartition: number;
  /** Longest `take` waits for a range's records. */
  readonly fetchTimeoutMs: number;
  /** Records asked for per `consume` call. */
  readonly pollBatchSize?: number;
  /** How long one `consume` call waits for records. */
  readonly pollTimeoutMs?: number;
  readonly logger: Logger;
}

/** One assigned partition's read state. */
interface PartitionState {
  readonly partition: TopicPartition;
  /** Fetched records at or after `bufferStart`, in offset order. */
  buffer: KafkaMessage[];
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
}

/**
 * Fetches records of explicitly assigned partitions ahead of the batches that need them, with a
 * loop of non-flowing `consume(n)` calls (which also serves librdkafka's rebalance callbacks).
 * `take(range)` hands out exactly the records in [from, until) of one partition, in offset order;
 * later records stay buffered for the next batch, and a partition whose buffer is full is paused
 * until a batch drains it. A `take` that starts anywhere but where the buffer is seeks first.
 */
export class PartitionFetcher {
  private readonly partitions = new Map<string, PartitionState>();
  private readonly waiters = new Set<() => void>();
  private loop: Promise<void> | undefined;
  private isRunning = false;
  private failure: Error | undefined;
  private readonly pollBatchSize: number;
  private readonly pollTimeoutMs: number;

  constructor(
    private readonly client: KafkaConsumerClient,
    private readonly options: PartitionFetcherOptions,
  ) {
    this.pollBatchSize = options.pollBatchSize ?? 1000;
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
    await this.loop;
    this.wake();
  }

  /**
   * Starts reading these partitions at these offsets. The caller has already assigned them in the
   * client (at the same offsets).
   */
  add(positions: ReadonlyArray<TopicPartition & { offset: number }>): void {
    for (const { topic, partition, offset } of positions) {
      this.partitions.set(topicPartitionKey(topic, partition), {
        partition: { topic, partition },
        buffer: [],
        bufferStart: offset,
        readThrough: offset,
        seekTo: undefined,
        isPaused: false,
      });
    }
    this.wake();
  }

  /** Forgets these partitions and their buffers (revoked, or unassigned). Pending `take`s on them resolve empty-handed. */
  remove(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) this.partitions.delete(topicPartitionKey(topic, partition));
    this.wake();
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
  async take(range: OffsetRange): Promise<KafkaMessage[] | undefined> {
    const key = range.key;
    let state = this.partitions.get(key);
    if (state === undefined) return undefined;
    if (range.fromOffset !== state.bufferStart) this.requestSeek(state, range.fromOffset);
    if (range.count === 0) return [];
    const deadline = Date.now() + this.options.fetchTimeoutMs;
    for (;;) {
      if (this.failure) throw this.failure;
      state = this.partitions.get(key);
      if (state === undefined) return undefined;
      if (state.readThrough >= range.untilOffset) break;
      if (!this.isRunning) {
        throw new KafkaError(`fetching ${range} stopped: the stream is stopping`, { retriable: true });
      }
      const remainingMs = deadline - Date.now();
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
    let end = 0;
    while (end < state.buffer.length && state.buffer[end].offset < range.untilOffset) end++;
    const records = state.buffer.slice(0, end);
    state.buffer = state.buffer.slice(end);
    state.bufferStart = range.untilOffset;
    if (state.isPaused && state.buffer.length < this.options.maxBufferedPerPartition) {
      this.client.resume([state.partition]);
      state.isPaused = false;
    }
    return records;
  }

  /**
   * Moves a partition's read position to `offset`, dropping what was buffered from elsewhere. The
   * seek itself happens in the fetch loop between two `consume` calls: a seek while a `consume`
   * runs could let that call return records from either position.
   */
  private requestSeek(state: PartitionState, offset: number): void {
    this.options.logger.debug(`seeking ${state.partition.topic}-${state.partition.partition} to ${offset}`);
    state.buffer = [];
    state.bufferStart = offset;
    state.readThrough = offset;
    state.seekTo = offset;
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
    while (this.isRunning) {
      await this.seekPending();
      let result: ConsumeResult;
      try {
        result = await this.client.consume(this.pollBatchSize, this.pollTimeoutMs);
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
          await new Promise((resolve) => setTimeout(resolve, this.pollTimeoutMs));
        }
        this.wake();
        continue;
      }
      this.accept(result);
      this.wake();
    }
  }

  /** Files a consume result into the partitions' buffers. */
  private accept(result: ConsumeResult): void {
    for (const message of result.messages) {
      const key = topicPartitionKey(message.topic, message.partition);
      const state = this.partitions.get(key);
      if (state === undefined || state.seekTo !== undefined) continue;
      // Already seen: drop rather than deliver twice.
      if (message.offset < state.readThrough) continue;
      state.buffer.push(message);
      state.readThrough = message.offset + 1;
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
      if (!state.isPaused && state.buffer.length >= this.options.maxBufferedPerPartition) {
        this.client.pause([state.partition]);
        state.isPaused = true;
      }
    }
  }

  private nextPoll(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.add(() => done());
    });
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter();
  }
}
