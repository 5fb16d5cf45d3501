import { DStreamError } from '../errors';
import type { DStream } from './graph';

/**
 * Which Kafka partition each record of a batch came from, as runs: records `[ends[i - 1], ends[i])`
 * came from `partitions[i]` (a `topic:partition` key). Carried beside a batch's records array, not
 * per record, so keeping it costs one entry per partition and batch. It is what scopes operator
 * state to the source partition (see docs/guide/windows-and-state.md, "Rebalances").
 */
export interface SourcePartitions {
  readonly partitions: readonly string[];
  readonly ends: readonly number[];
}

const byBatch = new WeakMap<readonly unknown[], SourcePartitions>();

const NONE: SourcePartitions = Object.freeze({ partitions: Object.freeze([]), ends: Object.freeze([]) });

/** Records that `records` came from `partitions` (runs ending at `ends`); returns `records`. */
export function setSourcePartitions<T>(records: readonly T[], partitions: readonly string[], ends: readonly number[]): readonly T[] {
  if (records.length > 0) byBatch.set(records, { partitions, ends });
  return records;
}

/** The source partitions of a batch's records: an empty batch has none to tell; undefined when unknown. */
export function sourcePartitionsOf(records: readonly unknown[]): SourcePartitions | undefined {
  if (records.length === 0) return NONE;
  return byBatch.get(records);
}

/** Runs of several batches laid end to end (a union or a window): undefined if one of them is unknown. */
export function concatSourcePartitions<T>(batches: readonly (readonly T[])[], output: readonly T[]): readonly T[] {
  const partitions: string[] = [];
  const ends: number[] = [];
  let offset = 0;
  for (const batch of batches) {
    const lineage = sourcePartitionsOf(batch);
    if (lineage === undefined) return output;
    for (let index = 0; index < lineage.partitions.length; index++) {
      partitions.push(lineage.partitions[index]);
      ends.push(offset + lineage.ends[index]);
    }
    offset += batch.length;
  }
  return setSourcePartitions(output, partitions, ends);
}

/**
 * The output of an aggregation by key (reduceByKey, groupByKey, countByValue) with its source
 * partitions, when a stateful operator downstream keeps state per partition: each key belongs to
 * the partition its records came from. A key whose records came from two partitions is an error,
 * since state and windows kept per source partition need keys co-partitioned (the same key always
 * in the same partition). Without such an operator the aggregations skip it: mixing partitions is
 * then fine, and costs nothing.
 */
export class KeyPartitions<K> {
  private readonly partitions = new Map<K, string>();
  /** The partition of the records being consumed; undefined while unknown. */
  current: string | undefined;
  private isKnown = true;

  constructor(private readonly operator: string) {}

  /** Called by `forEachRecord` before each run of records of one partition. */
  readonly onPartition = (partition: string): void => {
    this.current = partition;
  };

  /** Notes that `key` had a record of the current partition. */
  note(key: K): void {
    if (!this.isKnown) return;
    const current = this.current;
    if (current === undefined) {
      this.isKnown = false;
      return;
    }
    const known = this.partitions.get(key);
    if (known === undefined) {
      this.partitions.set(key, current);
    } else if (known !== current) {
      throw notCoPartitioned(this.operator, key, known, current);
    }
  }

  /** The partition `key`'s records came from, if known. */
  partitionOf(key: K): string | undefined {
    return this.isKnown ? this.partitions.get(key) : undefined;
  }

  /**
   * Sets the source partitions of `pairs` (one per key, in first-seen order): runs of keys of one
   * partition. Nothing is reordered: records come partition after partition, so a partition's keys
   * are first seen together.
   */
  order<P extends readonly [K, unknown]>(pairs: P[]): readonly P[] {
    if (!this.isKnown || pairs.length === 0) return pairs;
    const runs: string[] = [];
    const ends: number[] = [];
    for (let index = 0; index < pairs.length; index++) {
      const partition = this.partitions.get(pairs[index][0])!;
      if (runs.length > 0 && runs[runs.length - 1] === partition) ends[ends.length - 1] = index + 1;
      else {
        runs.push(partition);
        ends.push(index + 1);
      }
    }
    return setSourcePartitions(pairs, runs, ends);
  }
}

/**
 * Makes the by-key aggregations between `stream` and its Kafka input refuse keys that span
 * partitions (see `KeyPartitions`): called when a stateful operator over `stream` keeps its state
 * per source partition.
 */
export function checkKeyPartitions(stream: DStream<unknown>): void {
  const { node } = stream;
  if (node.yieldsSourceRecords === true || node.keepsSourcePartitions !== true) return;
  (node as { checksKeyPartitions?: boolean }).checksKeyPartitions = true;
  for (const dependency of node.dependencies) checkKeyPartitions(dependency);
}

/** The error for a key seen in two source partitions. */
export function notCoPartitioned(operator: string, key: unknown, first: string, second: string): DStreamError {
  return new DStreamError(
    `${operator}: key ${printKey(key)} came from two source partitions, ${first} and ${second}. State and windows are ` +
      'kept per source partition (so they move with it in a rebalance), which needs keys co-partitioned: produce every ' +
      'record of a key to the same partition (e.g. use the key as the Kafka message key), or re-key so that a key never spans partitions',
  );
}

function printKey(key: unknown): string {
  const text = typeof key === 'string' ? JSON.stringify(key) : (JSON.stringify(key) ?? String(key));
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/**
 * The first node between `stream` and its Kafka input that loses the source partition of the
 * records (a join, a transform, a mapPartitions, …), or undefined when every record's partition
 * is known all the way (or the stream does not read Kafka at all: then `readsKafka` is false).
 */
export function sourcePartitionsLostAt(stream: DStream<unknown>): { readsKafka: boolean; lostAt: string | undefined } {
  let readsKafka = false;
  let lostAt: string | undefined;
  const visit = (current: DStream<unknown>): void => {
    const { node } = current;
    // The Kafka input tells each record's partition (`setSourcePartitions`).
    if (node.yieldsSourceRecords === true) {
      readsKafka = true;
      return;
    }
    // Looked through even when lost: does anything below read Kafka?
    if (node.dependencies.length === 0 || node.keepsSourcePartitions !== true) lostAt ??= node.name;
    for (const dependency of node.dependencies) visit(dependency);
  };
  visit(stream);
  return { readsKafka, lostAt };
}

/** Sets the source partitions of Kafka records read partition after partition: `lengths[i]` records of `partitions[i]`. */
export function setSourcePartitionRuns<T>(records: readonly T[], partitions: readonly string[], lengths: readonly number[]): readonly T[] {
  const keys: string[] = [];
  const ends: number[] = [];
  let end = 0;
  for (let index = 0; index < partitions.length; index++) {
    if (lengths[index] === 0) continue;
    end += lengths[index];
    keys.push(partitions[index]);
    ends.push(end);
  }
  return end === records.length ? setSourcePartitions(records, keys, ends) : (setSourcePartitionsFromRecords(records as never) as readonly T[]);
}

/** Sets the source partitions of Kafka records from their own `topic` and `partition`, one run per partition change. */
export function setSourcePartitionsFromRecords<T extends { readonly topic: string; readonly partition: number }>(records: readonly T[]): readonly T[] {
  const keys: string[] = [];
  const ends: number[] = [];
  for (let index = 0; index < records.length; index++) {
    const { topic, partition } = records[index];
    const previous = index === 0 ? undefined : records[index - 1];
    if (previous !== undefined && previous.topic === topic && previous.partition === partition) continue;
    if (index > 0) ends.push(index);
    keys.push(`${topic}:${partition}`);
  }
  if (records.length > 0) ends.push(records.length);
  return setSourcePartitions(records, keys, ends);
}
