import { type StateChanges, StateChangeLog } from '../../state/StatefulOperator';
import { registerState } from '../../state/StateRegistry';
import { defineOperator, type DStream, type DStreamNode } from '../graph';
import { batchOf } from '../batchOf';
import { requireWindowDurations } from '../requireWindowDurations';
import { setSourcePartitions, sourcePartitionsOf } from '../sourcePartitions';

/** Options of `window`. */
export interface WindowOptions {
  /** Name the window's records are stored under (default: derived from the stream's lineage). */
  readonly name?: string;
}

/**
 * The node of `window` (Spark's `WindowedDStream`). It keeps each parent batch's records while
 * they lie in some window, and registers them as its state (`['batch', time]` → the records, per
 * source partition under a consumer group), so that after a restart, or in the process a
 * partition moved to, the windows hold the batches of the earlier run too. The parent's batches
 * are read once each, while current (`prepare`), before their offsets commit.
 */
class WindowNode<T> implements DStreamNode<T> {
  readonly name = 'window';
  readonly slideDurationMs: number;
  readonly dependencies: readonly DStream<unknown>[];
  readonly keepsSourcePartitions = true;
  /** State is kept per source partition (see `StatefulOperator.scopeByPartition`). */
  isScoped = false;
  /** Parent batch time → source partition (undefined: not kept per partition) → its records; in time order. */
  private batches = new Map<number, Map<string | undefined, readonly T[]>>();
  private lastReadTime = -Infinity;
  private readonly log = new StateChangeLog();

  constructor(
    private readonly source: DStream<T>,
    private readonly windowMs: number,
    slideMs: number,
  ) {
    this.slideDurationMs = slideMs;
    this.dependencies = [source];
  }

  /** The parent's batches are read again for as long as they lie in some window (Spark's WindowedDStream.parentRememberDuration). */
  parentRememberMs(rememberMs: number): number {
    return rememberMs + this.windowMs;
  }

  scopeByPartition(): void {
    this.isScoped = true;
  }

  /** Read while current, so a Kafka parent's batch is kept (and stored) before its offsets commit. */
  async prepare(time: number): Promise<void> {
    const { context, slideDurationMs } = this.source;
    if (time <= context.zeroTimeMs || (time - context.zeroTimeMs) % slideDurationMs !== 0) return;
    this.log.begin(time);
    await this.read(time);
  }

  async compute(time: number): Promise<readonly T[]> {
    const { context, slideDurationMs: parentSlideMs } = this.source;
    this.log.begin(time);
    const oldest = time - this.windowMs;
    for (const [batchTime, parts] of this.batches) {
      if (batchTime > oldest) break;
      // Out of every window from now on.
      for (const partition of parts.keys()) this.log.remove(['batch', batchTime], partition);
      this.batches.delete(batchTime);
    }
    const chunks: (readonly T[])[] = [];
    const partitions: string[] = [];
    const ends: number[] = [];
    let length = 0;
    let isKnown = true;
    for (let batchTime = oldest + parentSlideMs; batchTime <= time; batchTime += parentSlideMs) {
      if (batchTime > context.zeroTimeMs && batchTime > this.lastReadTime) await this.read(batchTime);
      for (const [partition, records] of this.batches.get(batchTime) ?? []) {
        chunks.push(records);
        length += records.length;
        const lineage = partition === undefined ? sourcePartitionsOf(records) : { partitions: [partition], ends: [records.length] };
        if (lineage === undefined) isKnown = false;
        else for (let run = 0; run < lineage.partitions.length; run++) {
          partitions.push(lineage.partitions[run]);
          ends.push(length - records.length + lineage.ends[run]);
        }
      }
    }
    if (chunks.length === 1) return chunks[0];
    const output = ([] as T[]).concat(...chunks);
    return isKnown ? setSourcePartitions(output, partitions, ends) : output;
  }

  /** Keeps the parent's batch at `time`, per source partition when kept so, and records it as a change. */
  private async read(time: number): Promise<void> {
    const records = await batchOf(this.source, time);
    this.lastReadTime = time;
    if (records.length === 0) return;
    const parts = new Map<string | undefined, readonly T[]>();
    const lineage = this.isScoped ? sourcePartitionsOf(records) : undefined;
    if (lineage === undefined) {
      parts.set(undefined, records);
    } else if (lineage.partitions.length === 1) {
      parts.set(lineage.partitions[0], records);
    } else {
      let start = 0;
      for (let run = 0; run < lineage.partitions.length; run++) {
        if (lineage.ends[run] > start) parts.set(lineage.partitions[run], records.slice(start, lineage.ends[run]));
        start = lineage.ends[run];
      }
    }
    this.batches.set(time, parts);
    for (const [partition, part] of parts) this.log.upsert(['batch', time], part, partition);
  }

  // ---- state handlers (StatefulOperator) ----------------------------------------------------------------------

  changesOf(time: number): StateChanges {
    return this.log.changesOf(time);
  }

  *entries(): Iterable<readonly [unknown, unknown]> {
    for (const [time, parts] of this.batches) for (const records of parts.values()) yield [['batch', time], records];
  }

  restore(entries: Iterable<readonly [unknown, unknown]>): void {
    this.batches = new Map();
    this.load(undefined, entries);
    this.lastReadTime = Math.max(-Infinity, ...this.batches.keys());
  }

  loadPartition(partition: string, entries: Iterable<readonly [unknown, unknown]>): void {
    this.dropPartition(partition);
    this.load(partition, entries);
  }

  dropPartition(partition: string): void {
    for (const [time, parts] of this.batches) {
      parts.delete(partition);
      if (parts.size === 0) this.batches.delete(time);
    }
  }

  private load(partition: string | undefined, entries: Iterable<readonly [unknown, unknown]>): void {
    for (const [key, records] of entries) {
      const time = (key as readonly ['batch', number])[1];
      let parts = this.batches.get(time);
      if (parts === undefined) {
        parts = new Map();
        this.batches.set(time, parts);
      }
      parts.set(partition, records as T[]);
    }
    // Time order: what `compute` forgets old batches by.
    this.batches = new Map([...this.batches].sort((a, b) => a[0] - b[0]));
  }
}

/**
 * `source.window(windowMs, slideMs)`: every `slideMs`, the records of `source`'s batches in
 * `(time - windowMs, time]`, oldest batch first (Spark's `WindowedDStream`). Batches before the
 * context's zero time come from the stored state of an earlier run (see `WindowNode`); a first
 * run's first windows hold fewer batches.
 */
export function window<T>(source: DStream<T>, windowMs: number, slideMs: number = source.slideDurationMs, options: WindowOptions = {}): DStream<T> {
  requireWindowDurations('window', source, windowMs, slideMs);
  const node = new WindowNode(source, windowMs, slideMs);
  const stream = source.derive<T>(node);
  stream.remember(stream.rememberDurationMs);
  registerState(source as DStream<unknown>, 'window', options.name, 1, node);
  return stream;
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Every `slideMs` (default: this stream's slide), the records of this stream's batches in
     * `(time - windowMs, time]`, oldest batch first (Spark's window). Both durations must be
     * multiples of this stream's slide. The first windows of a job's first run hold fewer batches. The
     * batches are kept while they lie in a window, as the window's state (`options.name`), so a
     * restarted job's windows hold the batches of the run before (see docs/guide/windows-and-state.md).
     *
     * @example
     * events.window(60_000, 10_000); // every 10 s, the last minute of events
     */
    window(windowMs: number, slideMs?: number, options?: WindowOptions): DStream<T, Tx>;
  }
}

defineOperator('window', window);
