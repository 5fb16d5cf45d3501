import type { DStream, DStreamNode } from './graph';
import { batchOf } from './batchOf';
import { type SourcePartitions, setSourcePartitions, sourcePartitionsOf } from './sourcePartitions';
import { userFunctionError } from './userFunctionError';

// Stage functions take `any`: each operator types its function against its own stream, and the
// chain passes values from stage to stage without knowing their types.

/** One narrow transformation applied to each record: what the fused operators other than mapPartitions become. */
export type RecordStage =
  | { readonly kind: 'map'; readonly name: string; readonly fn: (record: any) => unknown }
  | { readonly kind: 'filter'; readonly name: string; readonly fn: (record: any) => unknown }
  | { readonly kind: 'flatMap'; readonly name: string; readonly fn: (record: any) => Iterable<unknown> }
  | { readonly kind: 'mapValues'; readonly name: string; readonly fn: (value: any) => unknown }
  | { readonly kind: 'flatMapValues'; readonly name: string; readonly fn: (value: any) => Iterable<unknown> };

/** A narrow transformation over the whole batch at once (`mapPartitions`). */
export interface PartitionStage {
  readonly kind: 'mapPartitions';
  readonly name: string;
  readonly fn: (records: readonly any[]) => Iterable<unknown>;
}

/** Any stage a fused node runs. */
export type Stage = RecordStage | PartitionStage;

type Sink = (value: unknown) => void;

/**
 * What a stage's sink throws when the user function fails: a plain object (no stack to capture)
 * that the loop at the head of the pipeline turns into a `RecordProcessingError` naming the
 * record it was processing. Outer sinks let it pass untouched.
 */
class StageFailure {
  constructor(
    readonly operator: string,
    readonly cause: unknown,
  ) {}
}

/**
 * What the sink at the end of the chain throws when the consumer an aggregation gave it fails:
 * carries that error through the stages (which would otherwise charge it to a flatMap) to the
 * head loop, which rethrows it as is.
 */
class ConsumerFailure {
  constructor(readonly error: unknown) {}
}

/** A run of record stages, optionally fed by a `mapPartitions` over the previous run's output. */
interface Segment {
  readonly partition: PartitionStage | undefined;
  readonly stages: readonly RecordStage[];
}

/**
 * The node of a chain of narrow transformations (map, filter, flatMap, mapPartitions and the
 * pair variants built on them), fused into one pass over the parent's batch, as Spark pipelines
 * narrow dependencies inside a stage. Each stage becomes a small sink function calling the next,
 * so a record flows through the whole chain in one call with no intermediate array; only a
 * `mapPartitions` after other stages needs the records before it gathered into one array, because
 * it takes the whole batch.
 */
export class FusedNode<T> implements DStreamNode<T> {
  readonly name: string;
  readonly slideDurationMs: number;
  readonly dependencies: readonly DStream<unknown>[];
  private readonly segments: readonly Segment[];
  /**
   * The parent's records are the ones read from Kafka (`DStreamNode.yieldsSourceRecords`): a
   * stage failing on one of them at the head of the chain charges that very record, whatever the
   * stages after the first made of it, so a dead-letter policy can set it aside. Only read when a
   * stage throws: the loop itself carries no per-record bookkeeping.
   */
  private readonly readsSourceRecords: boolean;
  /** Record stages only (no mapPartitions): each output record's source partition is its input's. */
  readonly keepsSourcePartitions: boolean;
  /** Record stages only: a record can go through the chain as soon as it is read (see `planStreaming`). */
  readonly passesRecordsThrough: boolean;

  private constructor(
    readonly parent: DStream<unknown>,
    readonly stages: readonly Stage[],
  ) {
    this.name = stages[stages.length - 1].name;
    this.slideDurationMs = parent.slideDurationMs;
    this.dependencies = [parent];
    this.segments = toSegments(stages);
    this.readsSourceRecords = parent.node.yieldsSourceRecords === true;
    this.keepsSourcePartitions = this.segments.length === 1 && this.segments[0].partition === undefined;
    this.passesRecordsThrough = this.keepsSourcePartitions;
  }

  /**
   * The node for `stage` applied to `source`: when `source` is itself fused, the stage joins its
   * chain over the same parent instead of adding a node.
   */
  static append<T>(source: DStream<unknown>, stage: Stage): FusedNode<T> {
    const node = source.node;
    return node instanceof FusedNode
      ? new FusedNode<T>(node.parent, [...node.stages, stage])
      : new FusedNode<T>(source, [stage]);
  }

  async compute(time: number): Promise<readonly T[]> {
    let records: readonly unknown[] = await batchOf(this.parent, time);
    const lineage = this.keepsSourcePartitions ? sourcePartitionsOf(records) : undefined;
    if (lineage !== undefined && lineage.partitions.length > 0) return this.computeByPartition(records, lineage);
    for (let index = 0; index < this.segments.length; index++) {
      records = runSegment(this.segments[index], records, index === 0 && this.readsSourceRecords);
    }
    return records as readonly T[];
  }

  /**
   * Runs the chain over the parent's batch at `time` and hands each output record to `consume` as
   * it is produced, in the order `compute` would return them, without collecting them: what an
   * aggregation after the chain folds never outlives the fold (map-side combine). Errors are those
   * of `compute`; what `consume` throws is rethrown unchanged.
   */
  async forEachOutput(time: number, consume: (record: T) => void, onPartition?: (partition: string) => void): Promise<void> {
    if (this.passesRecordsThrough && this.parent.node.isStreamed === true) {
      // The parent streams its batch: each chunk goes through the chain as it is read.
      const sink = buildSink(this.segments[0].stages, toConsumer(consume));
      await this.parent.forEachChunk(time, (chunk, partition) => {
        if (partition !== undefined) onPartition?.(partition);
        pushAll(chunk, sink, this.readsSourceRecords);
      });
      return;
    }
    let records: readonly unknown[] = await batchOf(this.parent, time);
    if (onPartition !== undefined && this.keepsSourcePartitions) {
      const lineage = sourcePartitionsOf(records);
      if (lineage !== undefined) {
        this.runByPartition(records, lineage, toConsumer(consume), onPartition);
        return;
      }
    }
    const last = this.segments.length - 1;
    for (let index = 0; index < last; index++) {
      records = runSegment(this.segments[index], records, index === 0 && this.readsSourceRecords);
    }
    runSegment(this.segments[last], records, last === 0 && this.readsSourceRecords, toConsumer(consume));
  }

  /** `compute` keeping the source partitions: the head loop runs partition by partition and notes where each ends in the output. */
  private computeByPartition(records: readonly unknown[], lineage: SourcePartitions): readonly T[] {
    const output: unknown[] = [];
    const ends: number[] = [];
    this.runByPartition(records, lineage, (value) => void output.push(value), (_partition, run) => {
      if (run > 0) ends.push(output.length);
    });
    ends.push(output.length);
    return setSourcePartitions(output, lineage.partitions, ends) as readonly T[];
  }

  /** Runs the (record-stage only) chain over `records`, telling `onPartition` before each partition's run. */
  private runByPartition(
    records: readonly unknown[],
    lineage: SourcePartitions,
    end: Sink,
    onPartition: (partition: string, run: number) => void,
  ): void {
    const sink = buildSink(this.segments[0].stages, end);
    let start = 0;
    for (let index = 0; index < lineage.partitions.length; index++) {
      onPartition(lineage.partitions[index], index);
      pushAll(records, sink, this.readsSourceRecords, start, lineage.ends[index]);
      start = lineage.ends[index];
    }
  }
}

/** The chain's last sink handing records to an aggregation's consumer, whose own failure passes through the stages untouched. */
function toConsumer<T>(consume: (record: T) => void): Sink {
  return (value) => {
    try {
      consume(value as T);
    } catch (error) {
      throw new ConsumerFailure(error);
    }
  };
}

/**
 * Hands each record of `stream`'s batch at `time` to `consume`, in order: how aggregations read
 * their input. Over a fused chain it runs the chain with `consume` as its last sink
 * (`FusedNode.forEachOutput`), so the chain's output is never materialized, as Spark combines on
 * the map side. That bypasses the stream's remembered batch: if another output also reads the
 * chain, the chain runs once for each (the parent's batch is still computed once), as Spark
 * recomputes an uncached RDD's narrow lineage for each action. Off the stream's slide there is
 * no batch and nothing is consumed, as with `batchOf`.
 */
export async function forEachRecord<T>(
  stream: DStream<T>,
  time: number,
  consume: (record: T) => void,
  onPartition?: (partition: string) => void,
): Promise<void> {
  const { node } = stream;
  if (node instanceof FusedNode) {
    if ((time - stream.context.zeroTimeMs) % stream.slideDurationMs !== 0) return;
    await (node as FusedNode<T>).forEachOutput(time, consume, onPartition);
    return;
  }
  if (node.isStreamed === true) {
    await stream.forEachChunk(time, (chunk, partition) => {
      if (partition !== undefined) onPartition?.(partition);
      for (let index = 0; index < chunk.length; index++) consume(chunk[index]);
    });
    return;
  }
  const records = await batchOf(stream, time);
  const lineage = onPartition === undefined ? undefined : sourcePartitionsOf(records);
  if (lineage === undefined) {
    for (let index = 0; index < records.length; index++) consume(records[index]);
    return;
  }
  let index = 0;
  for (let run = 0; run < lineage.partitions.length; run++) {
    onPartition!(lineage.partitions[run]);
    for (const end = lineage.ends[run]; index < end; index++) consume(records[index]);
  }
}

function toSegments(stages: readonly Stage[]): Segment[] {
  const segments: Segment[] = [];
  let partition: PartitionStage | undefined;
  let run: RecordStage[] = [];
  for (const stage of stages) {
    if (stage.kind === 'mapPartitions') {
      if (partition !== undefined || run.length > 0) segments.push({ partition, stages: run });
      partition = stage;
      run = [];
    } else {
      run.push(stage);
    }
  }
  segments.push({ partition, stages: run });
  return segments;
}

/**
 * Runs one segment over `records`: into a new array that it returns, or, given `end`, into that
 * sink (and then returns nothing worth reading). `isSource`: `records` are the records read from
 * Kafka, so a failure at the head loop names a source record (a `mapPartitions` in front of the
 * stages breaks that: its output is not).
 */
function runSegment(segment: Segment, records: readonly unknown[], isSource: boolean, end?: Sink): readonly unknown[] {
  const output: unknown[] = [];
  const sink = buildSink(
    segment.stages,
    end ??
      ((value) => {
        output.push(value);
      }),
  );
  const { partition } = segment;
  if (partition === undefined) {
    pushAll(records, sink, isSource);
    return output;
  }
  let produced: Iterable<unknown>;
  try {
    produced = partition.fn(records);
  } catch (cause) {
    throw userFunctionError(partition.name, cause);
  }
  if (Array.isArray(produced)) {
    if (segment.stages.length === 0 && end === undefined) return produced;
    pushAll(produced, sink, false);
  } else {
    pushEach(partition.name, produced, sink);
  }
  return output;
}

/**
 * The head loop over an array: the common case, indexed so V8 keeps it tight. The index is the
 * only thing it tracks: when a stage throws, `records[index]` is the record the chain was
 * processing, whatever stage failed on whatever that record had become.
 */
function pushAll(records: readonly unknown[], sink: Sink, isSource: boolean, start = 0, end = records.length): void {
  let index = start;
  try {
    for (; index < end; index++) sink(records[index]);
  } catch (error) {
    if (error instanceof ConsumerFailure) throw error.error;
    throw error instanceof StageFailure ? userFunctionError(error.operator, error.cause, records[index], isSource) : error;
  }
}

/**
 * The head loop over what a `mapPartitions` produced. Anything thrown while iterating that is not a
 * stage's failure came from the user's iterable, so it is charged to the `mapPartitions`.
 */
function pushEach(operator: string, produced: Iterable<unknown>, sink: Sink): void {
  let current: unknown;
  try {
    for (const record of produced) {
      current = record;
      sink(record);
    }
  } catch (error) {
    if (error instanceof ConsumerFailure) throw error.error;
    throw error instanceof StageFailure
      ? userFunctionError(error.operator, error.cause, current)
      : userFunctionError(operator, error);
  }
}

/** Chains the stages' sinks back to front, ending in `end`. */
function buildSink(stages: readonly RecordStage[], end: Sink): Sink {
  let sink = end;
  for (let index = stages.length - 1; index >= 0; index--) {
    const stage = stages[index];
    switch (stage.kind) {
      case 'map':
        sink = mapSink(stage.name, stage.fn, sink);
        break;
      case 'filter':
        sink = filterSink(stage.name, stage.fn, sink);
        break;
      case 'flatMap':
        sink = flatMapSink(stage.name, stage.fn, sink);
        break;
      case 'mapValues':
        sink = mapValuesSink(stage.name, stage.fn, sink);
        break;
      case 'flatMapValues':
        sink = flatMapValuesSink(stage.name, stage.fn, sink);
        break;
    }
  }
  return sink;
}

// Each sink calls the user function inside its own try so a failure is charged to the right
// operator; the call to `next` stays outside it, so a downstream failure passes through as is.
function mapSink(name: string, fn: (record: unknown) => unknown, next: Sink): Sink {
  return (value) => {
    let result: unknown;
    try {
      result = fn(value);
    } catch (cause) {
      throw new StageFailure(name, cause);
    }
    next(result);
  };
}

function filterSink(name: string, fn: (record: unknown) => unknown, next: Sink): Sink {
  return (value) => {
    let isKept: unknown;
    try {
      isKept = fn(value);
    } catch (cause) {
      throw new StageFailure(name, cause);
    }
    if (isKept) next(value);
  };
}

function flatMapSink(name: string, fn: (record: unknown) => Iterable<unknown>, next: Sink): Sink {
  return (value) => {
    // The user's iterable is consumed while `next` runs, so errors are told apart by type:
    // a StageFailure or ConsumerFailure comes from downstream, anything else from this stage's
    // function or iterable.
    try {
      for (const item of fn(value)) next(item);
    } catch (error) {
      throw error instanceof StageFailure || error instanceof ConsumerFailure ? error : new StageFailure(name, error);
    }
  };
}

// The pair variants have their own sinks rather than wrapping the user function in a map or
// flatMap stage: one call per record instead of two, and no generator object per pair.
function mapValuesSink(name: string, fn: (value: unknown) => unknown, next: Sink): Sink {
  return (pair) => {
    const key = (pair as readonly [unknown, unknown])[0];
    let result: unknown;
    try {
      result = fn((pair as readonly [unknown, unknown])[1]);
    } catch (cause) {
      throw new StageFailure(name, cause);
    }
    next([key, result]);
  };
}

function flatMapValuesSink(name: string, fn: (value: unknown) => Iterable<unknown>, next: Sink): Sink {
  return (pair) => {
    const key = (pair as readonly [unknown, unknown])[0];
    try {
      for (const value of fn((pair as readonly [unknown, unknown])[1])) next([key, value]);
    } catch (error) {
      throw error instanceof StageFailure || error instanceof ConsumerFailure ? error : new StageFailure(name, error);
    }
  };
}
