import type { DStream } from './graph';

const NO_RECORDS: readonly never[] = Object.freeze([]);

/**
 * The records of `stream`'s batch at `time`, or none when `time` is not on the stream's slide
 * (Spark's `getOrCompute` returning `None`). Every operator reads its parents through this.
 */
export function batchOf<T>(stream: DStream<T>, time: number): Promise<readonly T[]> {
  return stream.getOrCompute(time) ?? Promise.resolve(NO_RECORDS);
}
