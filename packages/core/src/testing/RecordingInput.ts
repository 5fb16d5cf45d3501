import type { InputSource } from '../context/types';
import type { OffsetRange } from '../offsets/OffsetRange';
import type { BatchInfo } from '../scheduler/events';

/** Behaviour of a `RecordingInput`; every member is optional. */
export interface RecordingInputOptions {
  /** Runs inside `start()` (e.g. to fail it). */
  readonly start?: (signal?: AbortSignal) => Promise<void>;
  /** Runs inside `generate(time)`. */
  readonly generate?: (time: number) => Promise<void>;
  /** The ranges of batch `time` (default none). */
  readonly offsetRanges?: (time: number) => readonly OffsetRange[];
  /** Makes the input report `recordCount(time)`; without it the scheduler counts the ranges. */
  readonly recordCount?: (time: number) => number;
  /** The transaction `runBatch` hands its outputs (default undefined). */
  readonly transaction?: unknown;
  /** Runs after the outputs succeeded, as a commit would (e.g. to fail it). */
  readonly commit?: (time: number) => Promise<void>;
}

/**
 * An `InputSource` that records every call the scheduler makes (`"generate 1000"`,
 * `"runBatch 1000"`, `"commit 1000"`, …) for tests of the scheduler's protocol. It backs no
 * stream: register it beside a `queueStream` whose stream the outputs read.
 *
 * @example
 * const input = new RecordingInput('kafka', { transaction: tx });
 * ssc.registerInput(input);
 * // … after a batch …
 * input.calls; // ['start', 'generate 1000', 'runBatch 1000', 'commit 1000', 'clear 1000', 'completed 1000']
 */
export class RecordingInput implements InputSource {
  /** Calls in the order they happened. */
  readonly calls: string[] = [];
  /** Every BatchInfo passed to `onBatchCompleted`. */
  readonly completed: BatchInfo[] = [];
  readonly recordCount: ((time: number) => number) | undefined;

  constructor(
    readonly name: string,
    private readonly options: RecordingInputOptions = {},
  ) {
    this.recordCount = options.recordCount;
  }

  async start(signal?: AbortSignal): Promise<void> {
    this.calls.push('start');
    await this.options.start?.(signal);
  }

  async stop(): Promise<void> {
    this.calls.push('stop');
  }

  async generate(time: number): Promise<void> {
    this.calls.push(`generate ${time}`);
    await this.options.generate?.(time);
  }

  offsetRanges(time: number): readonly OffsetRange[] {
    return this.options.offsetRanges?.(time) ?? [];
  }

  async runBatch(time: number, outputs: (transaction: unknown) => Promise<void>): Promise<void> {
    this.calls.push(`runBatch ${time}`);
    await outputs(this.options.transaction);
    await this.options.commit?.(time);
    this.calls.push(`commit ${time}`);
  }

  clear(time: number): void {
    this.calls.push(`clear ${time}`);
  }

  onBatchCompleted(info: BatchInfo): void {
    this.calls.push(`completed ${info.batchTimeMs}`);
    this.completed.push(info);
  }
}
