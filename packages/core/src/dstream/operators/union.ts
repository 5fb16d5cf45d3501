import { ConfigError } from '../../errors';
import { defineOperator, type DStream } from '../graph';
import { batchOf } from '../batchOf';
import { derivedNode } from '../derivedNode';
import { requireCompatibleStreams } from '../requireCompatibleStreams';
import { concatSourcePartitions } from '../sourcePartitions';

/** `source.union(...others)`: each batch holds `source`'s records, then each other stream's, in argument order. */
export function union<T>(source: DStream<T>, others: readonly DStream<T>[]): DStream<T> {
  if (others.length === 0) {
    throw new ConfigError('union(...others)', others, 'needs at least one stream', 'Pass the streams to merge with this one.');
  }
  requireCompatibleStreams('union', source, others);
  const streams = [source, ...others];
  return source.derive({
    ...derivedNode<T>('union', streams, async (time) => {
      const batches = await Promise.all(streams.map((stream) => batchOf(stream, time)));
      return concatSourcePartitions(batches, batches.flat() as T[]);
    }),
    keepsSourcePartitions: true,
  });
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * This stream's records followed by each other stream's, batch by batch. All streams must
     * belong to this context and have this stream's slide (else `ConfigError`).
     *
     * @example
     * const all = clicks.union(views, purchases);
     */
    union(...others: DStream<T>[]): DStream<T, Tx>;
  }
}

defineOperator('union', (source, ...others) => union(source, others));
