import type { InputSource, StreamingContextLike } from '../context/types';
import { DStream, type DStreamNode } from '../dstream/DStream';
import { ConfigError } from '../errors';
import type { OffsetRange } from '../offsets/OffsetRange';

/** Options of `queueStream`. */
export interface QueueStreamOptions<T> {
  /** Take one queued array per batch (default), or everything queued so far as one batch. */
  readonly oneAtATime?: boolean;
  /** The batch when the queue is empty (default: no records). */
  readonly defaultBatch?: readonly T[];
  /**
   * Hands each batch over in chunks of this many records, none kept, whenever the graph lets the
   * stream stream (its one reader folds it record by record; see `planStreaming`), as a Kafka
   * input does. Default: batches are always held whole.
   */
  readonly chunkSize?: number;
}

const NO_RANGES: readonly OffsetRange[] = Object.freeze([]);

/** The input and the graph node behind `queueStream`: batches come from an in-memory queue. */
class QueueInput<T> implements InputSource, DStreamNode<T> {
  readonly name = 'queueStream';
  readonly dependencies: readonly DStream<unknown>[] = [];
  readonly slideDurationMs: number;
  /** Set right after construction; `clear` keeps batches as long as the stream remembers them. */
  stream!: DStream<T>;
  private readonly batches = new Map<number, readonly T[]>();
  /** Set by `planStreaming` when the batches stream (with a `chunkSize`). */
  isStreamed?: boolean;
  /** Present with a `chunkSize`: what lets `planStreaming` stream this input. */
  readonly streamBatch?: (time: number, consume: (records: readonly T[], partition: string | undefined) => void) => Promise<void>;
  /** How many records each streamed batch had, once handed over (they are not kept). */
  private readonly streamedCounts = new Map<number, number>();

  constructor(
    context: StreamingContextLike,
    private readonly queue: T[][],
    private readonly isOneAtATime: boolean,
    private readonly defaultBatch: readonly T[],
    chunkSize: number | undefined,
  ) {
    this.slideDurationMs = context.batchIntervalMs;
    if (chunkSize !== undefined) {
      this.streamBatch = async (time, consume) => {
        const batch = this.batches.get(time) ?? [];
        this.batches.delete(time);
        this.streamedCounts.set(time, batch.length);
        for (let start = 0; start < batch.length; start += chunkSize) consume(batch.slice(start, start + chunkSize), undefined);
      };
    }
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async generate(time: number): Promise<void> {
    let batch: readonly T[];
    if (this.queue.length === 0) batch = this.defaultBatch;
    else if (this.isOneAtATime) batch = this.queue.shift()!;
    else batch = this.queue.splice(0).flat() as T[];
    this.batches.set(time, batch);
  }

  offsetRanges(): readonly OffsetRange[] {
    return NO_RANGES;
  }

  runBatch(_time: number, outputs: (transaction: unknown) => Promise<void>): Promise<void> {
    return outputs(undefined);
  }

  compute(time: number): readonly T[] {
    return this.batches.get(time) ?? [];
  }

  recordCount(time: number): number {
    return this.batches.get(time)?.length ?? this.streamedCounts.get(time) ?? 0;
  }

  clear(time: number): void {
    for (const batchTime of this.streamedCounts.keys()) {
      if (batchTime < time) this.streamedCounts.delete(batchTime);
    }
    // A window downstream may read this batch again later; keep it as long as the stream remembers.
    const oldestKeptMs = time - this.stream.rememberDurationMs;
    for (const batchTime of this.batches.keys()) {
      if (batchTime <= oldestKeptMs) this.batches.delete(batchTime);
    }
  }
}

/**
 * A stream whose batches are taken from `queue`, one array per batch interval (Spark's
 * queueStream), for tests and demos. The queue is read live: arrays pushed onto it after
 * `start()` feed later batches. No offsets: its batches have empty `offsetRanges`.
 *
 * @example
 * const clock = new ManualClock();
 * const ssc = new StreamingContext({ appName: 'test', batchIntervalMs: 1000, clock });
 * const words = queueStream(ssc, [['a', 'b'], ['c']]);
 */
export function queueStream<T>(
  context: StreamingContextLike,
  queue: T[][],
  options: QueueStreamOptions<T> = {},
): DStream<T> {
  const { oneAtATime = true, defaultBatch = [], chunkSize } = options;
  if (!Array.isArray(queue) || !queue.every((batch) => Array.isArray(batch))) {
    throw new ConfigError('queueStream queue', queue, 'must be an array of arrays (one per batch)', 'Pass e.g. [[1, 2], [3]].');
  }
  if (typeof oneAtATime !== 'boolean') {
    throw new ConfigError('queueStream oneAtATime', oneAtATime, 'must be a boolean', 'Pass true or false.');
  }
  if (!Array.isArray(defaultBatch)) {
    throw new ConfigError('queueStream defaultBatch', defaultBatch, 'must be an array', 'Pass the records of an empty-queue batch, e.g. [].');
  }
  if (chunkSize !== undefined && (!Number.isSafeInteger(chunkSize) || chunkSize < 1)) {
    throw new ConfigError('queueStream chunkSize', chunkSize, 'must be a positive integer', 'Pass how many records each chunk holds, e.g. 2.');
  }
  const input = new QueueInput(context, queue, oneAtATime, defaultBatch, chunkSize);
  const stream = new DStream<T>(context, input);
  input.stream = stream;
  context.registerInput(input);
  return stream;
}
