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

  constructor(
    context: StreamingContextLike,
    private readonly queue: T[][],
    private readonly isOneAtATime: boolean,
    private readonly defaultBatch: readonly T[],
  ) {
    this.slideDurationMs = context.batchIntervalMs;
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
    return this.batches.get(time)?.length ?? 0;
  }

  clear(time: number): void {
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
  const { oneAtATime = true, defaultBatch = [] } = options;
  if (!Array.isArray(queue) || !queue.every((batch) => Array.isArray(batch))) {
    throw new ConfigError('queueStream queue', queue, 'must be an array of arrays (one per batch)', 'Pass e.g. [[1, 2], [3]].');
  }
  if (typeof oneAtATime !== 'boolean') {
    throw new ConfigError('queueStream oneAtATime', oneAtATime, 'must be a boolean', 'Pass true or false.');
  }
  if (!Array.isArray(defaultBatch)) {
    throw new ConfigError('queueStream defaultBatch', defaultBatch, 'must be an array', 'Pass the records of an empty-queue batch, e.g. [].');
  }
  const input = new QueueInput(context, queue, oneAtATime, defaultBatch);
  const stream = new DStream<T>(context, input);
  input.stream = stream;
  context.registerInput(input);
  return stream;
}
