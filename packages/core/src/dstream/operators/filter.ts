import { defineOperator, type DStream } from '../graph';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.filter(fn)`: the records for which `fn` returns a truthy value. Fused with neighbouring narrow operators. */
export function filter<T>(source: DStream<T>, fn: (record: T) => unknown): DStream<T> {
  requireFunction('filter', 'fn', fn, 'Pass a predicate that returns true for the records to keep.');
  return source.derive(FusedNode.append<T>(source, { kind: 'filter', name: 'filter', fn }));
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * The records for which `fn` returns true (a type guard narrows the element type). Fused.
     *
     * @example
     * const errors = lines.filter((line) => line.includes('ERROR'));
     */
    filter<S extends T>(fn: (record: T) => record is S): DStream<S, Tx>;
    filter(fn: (record: T) => boolean): DStream<T, Tx>;
  }
}

defineOperator('filter', filter);
