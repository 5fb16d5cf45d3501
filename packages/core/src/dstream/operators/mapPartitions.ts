import { defineOperator, type DStream } from '../graph';
import { FusedNode } from '../FusedNode';
import { requireFunction } from '../requireFunction';

/** `source.mapPartitions(fn)`: `fn` over the batch's records at once (a batch is one partition). */
export function mapPartitions<T, U>(source: DStream<T>, fn: (records: readonly T[]) => Iterable<U>): DStream<U> {
  requireFunction(
    'mapPartitions',
    'fn',
    fn,
    'Pass a function from the batch\'s records to an iterable of results, e.g. (records) => records.map(parse).',
  );
  return source.derive(FusedNode.append<U>(source, { kind: 'mapPartitions', name: 'mapPartitions', fn }));
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * The elements of the iterable `fn` returns for the batch's records taken all at once. In
     * dstream a batch is one partition, so `fn` runs once per batch: the place to set up something
     * costly (a parser, a connection from a pool) once rather than per record. Fused; after other
     * narrow operators, their output is gathered into the array `fn` receives.
     *
     * @example
     * const parsed = lines.mapPartitions((records) => {
     *   const parser = createParser();
     *   return records.map((line) => parser.parse(line));
     * });
     */
    mapPartitions<U>(fn: (records: readonly T[]) => Iterable<U>): DStream<U, Tx>;
  }
}

defineOperator('mapPartitions', mapPartitions);
