import { type Observable, type Subscription, isObservable } from 'rxjs';
import { DStream, type DStreamNode } from '../dstream/DStream';
import { ConfigError, DStreamError } from '../errors';
import type { OffsetRange } from '../offsets/OffsetRange';
import type { InputSource, StreamingContextLike } from './types';

/** Options of `fromObservable` and `StreamingContext.observableStream`. */
export interface ObservableStreamOptions {
  /**
   * Called once, at the tick that takes the last values the Observable emitted before completing
   * (the first batch time after completion), with that batch time. `() => void ssc.stop()` ends
   * the job with its input: a graceful stop still runs and commits that last batch.
   */
  readonly onComplete?: (lastBatchTimeMs: number) => void;
}

const NO_RANGES: readonly OffsetRange[] = Object.freeze([]);

/** The input and the graph node behind `fromObservable`: batches are what was emitted between ticks. */
class ObservableInput<T> implements InputSource, DStreamNode<T> {
  readonly name = 'observableStream';
  readonly dependencies: readonly DStream<unknown>[] = [];
  readonly slideDurationMs: number;
  /** Set right after construction; `clear` keeps batches as long as the stream remembers them. */
  stream!: DStream<T>;
  private readonly batches = new Map<number, readonly T[]>();
  /** Values emitted since the last tick. */
  private pending: T[] = [];
  private subscription: Subscription | undefined;
  private isComplete = false;
  private hasReportedCompletion = false;
  private failure: { readonly error: unknown } | undefined;

  constructor(
    context: StreamingContextLike,
    private readonly source: Observable<T>,
    private readonly onComplete: ((lastBatchTimeMs: number) => void) | undefined,
  ) {
    this.slideDurationMs = context.batchIntervalMs;
  }

  async start(): Promise<void> {
    // A cold Observable (`from([…])`, `interval(…)`) starts emitting here; values emitted during
    // subscribe, before the first tick, belong to the first batch.
    this.subscription = this.source.subscribe({
      next: (value) => void this.pending.push(value),
      error: (error: unknown) => {
        this.failure = { error };
      },
      complete: () => {
        this.isComplete = true;
      },
    });
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
  }

  async generate(time: number): Promise<void> {
    if (this.failure !== undefined) {
      const { error } = this.failure;
      // The scheduler stops the context with a failing tick's error, as Spark stops on a receiver's reportError.
      throw new DStreamError(
        `observableStream's Observable errored: ${error instanceof Error ? error.message : String(error)}. ` +
          'The context stops; handle the error inside the Observable (catchError, retry) to keep the job running.',
        { cause: error },
      );
    }
    const batch = this.pending;
    this.pending = [];
    this.batches.set(time, batch);
    if (this.isComplete && !this.hasReportedCompletion) {
      this.hasReportedCompletion = true;
      this.onComplete?.(time);
    }
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
 * A stream fed by an RxJS Observable: each batch holds the values emitted since the previous
 * batch tick, in emission order (as Spark's receiver streams cut what arrived in each interval).
 * The Observable is subscribed when the context starts and unsubscribed when it stops. Completion
 * ends the input: what came before it is the next batch, later batches are empty (see
 * `options.onComplete` to stop the context then). An error stops the context at the next tick,
 * with a `DStreamError` whose `cause` is the Observable's error; values emitted since the last
 * tick are not delivered. No offsets: batches have empty `offsetRanges`, and what was emitted
 * but not yet processed is lost on a crash: replayable sources belong in Kafka.
 *
 * @example
 * const ticks$ = interval(100).pipe(map((n) => ({ n, at: Date.now() })));
 * const ticks = fromObservable(ssc, ticks$);
 * ticks.count().print();
 */
export function fromObservable<T>(
  context: StreamingContextLike,
  source: Observable<T>,
  options: ObservableStreamOptions = {},
): DStream<T> {
  if (!isObservable(source)) {
    throw new ConfigError(
      'observableStream source',
      source,
      'must be an RxJS Observable',
      'Pass an Observable, e.g. from(events) or fromEvent(emitter, "data"); wrap other sources with from(…).',
    );
  }
  const { onComplete } = options;
  if (onComplete !== undefined && typeof onComplete !== 'function') {
    throw new ConfigError(
      'observableStream onComplete',
      onComplete,
      'must be a function',
      'Pass a callback, e.g. onComplete: () => void ssc.stop(), or leave it out.',
    );
  }
  const input = new ObservableInput(context, source, onComplete);
  const stream = new DStream<T>(context, input);
  input.stream = stream;
  context.registerInput(input);
  return stream;
}
