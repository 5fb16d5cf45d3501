import { defineOperator, type DStream } from '../graph';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.map(fn)`: one output record per input record. Fused with neighbouring narrow operators. */
export function map<T, U>(source: DStream<T>, fn: (record: T) => U): DStream<U> {
  requireFunction('map', 'fn', fn, 'Pass a function from one record to its replacement, e.g. (record) => record.value.');
  return source.derive(FusedNode.append<U>(source, { kind: 'map', name: 'map', fn }));
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * A stream of `fn(record)` for every record. Fused with the narrow operators around it.
     * A throw becomes a `RecordProcessingError` naming the Kafka record being processed.
     *
     * @example
     * const values = kafkaStream.map((record) => record.value.toString());
     */
    map<U>(fn: (record: T) => U): DStream<U, Tx>;
  }
}

defineOperator('map', map);
