import type { ScheduledStream } from './types';

/**
 * Decides, once the graph is complete (at start), which inputs stream their batches: an input
 * that can (`DStreamNode.streamBatch`) streams when its batch has exactly one reader, and that
 * reader folds it record by record as it arrives (`foldsRecords`: an aggregation), directly or
 * through one fused chain of record stages (`passesRecordsThrough`) that nothing else reads; and
 * neither the input nor that chain remembers batches past their own time (no window over them).
 * A streamed batch is then never held whole: memory follows the chunk being read, not the batch,
 * as Spark's iterator-based stages pipeline records from a Kafka partition into a map-side
 * combine. Every other input holds its batch, which any number of readers may read.
 */
export function planStreaming(outputs: readonly ScheduledStream[]): void {
  // Each stream's readers: the streams that depend on it, once per dependency edge, and an
  // `undefined` per output registered on it.
  const readers = new Map<ScheduledStream, (ScheduledStream | undefined)[]>();
  const readersOf = (stream: ScheduledStream): (ScheduledStream | undefined)[] => {
    let list = readers.get(stream);
    if (list === undefined) {
      list = [];
      readers.set(stream, list);
    }
    return list;
  };
  const visited = new Set<ScheduledStream>();
  const visit = (stream: ScheduledStream): void => {
    if (visited.has(stream)) return;
    visited.add(stream);
    for (const dependency of stream.dependencies) {
      readersOf(dependency).push(stream);
      visit(dependency);
    }
  };
  for (const output of outputs) {
    readersOf(output).push(undefined);
    visit(output);
  }
  const onlyReader = (stream: ScheduledStream): ScheduledStream | undefined => {
    const list = readersOf(stream);
    return list.length === 1 ? list[0] : undefined;
  };
  const forgetsAtOnce = (stream: ScheduledStream): boolean => stream.rememberDurationMs <= stream.slideDurationMs;
  for (const stream of visited) {
    const { node } = stream;
    if (node.streamBatch === undefined) continue;
    let isStreamed = false;
    const reader = onlyReader(stream);
    if (reader !== undefined && forgetsAtOnce(stream)) {
      if (reader.node.foldsRecords === true) {
        isStreamed = true;
      } else if (reader.node.passesRecordsThrough === true && forgetsAtOnce(reader)) {
        isStreamed = onlyReader(reader)?.node.foldsRecords === true;
      }
    }
    node.isStreamed = isStreamed;
  }
}
