import { defineOperator, type DStream, type DStreamNode } from '../graph';
import { forEachRecord } from '../FusedNode';
import { derivedNode } from '../derivedNode';
import { requireFunction } from '../requireFunction';
import { userFunctionError } from '../userFunctionError';
import { KeyPartitions } from '../sourcePartitions';

/**
 * `V` with literal types widened (`1` to `number`, `'a'` to `string`), so that pairs made with
 * `[word, 1] as const` can be summed: the reduced value of a key of `1`s is a number, not `1`.
 */
export type WidenLiteral<V> = V extends number
  ? number
  : V extends string
    ? string
    : V extends boolean
      ? boolean
      : V extends bigint
        ? bigint
        : V;

/** `source.reduceByKey(fn)`: one `[key, reduced value]` per key of the batch, in first-seen key order. */
export function reduceByKey<K, V>(
  source: DStream<readonly [K, V]>,
  fn: (accumulated: WidenLiteral<V>, value: WidenLiteral<V>) => WidenLiteral<V>,
): DStream<[K, WidenLiteral<V>]> {
  requireFunction(
    'reduceByKey',
    'fn',
    fn,
    'Pass an associative function combining two values of one key, e.g. (a, b) => a + b.',
  );
  const node: DStreamNode<[K, WidenLiteral<V>]> = {
    ...derivedNode<[K, WidenLiteral<V>]>('reduceByKey', [source], async (time) => {
      // Each key's value in a cell of its own: a pair of a key seen before costs one lookup, not two.
      const reduced = new Map<K, { value: WidenLiteral<V> }>();
      // Source partitions only for a stateful operator downstream that keeps state per partition.
      const partitions = node.checksKeyPartitions === true ? new KeyPartitions<K>('reduceByKey') : undefined;
      // Folded as the pairs are produced (map-side combine): a pair dies young instead of waiting
      // in an array the size of the batch. Every V is a WidenLiteral<V>: widening only forgets
      // which literal a value was.
      await forEachRecord(
        source as DStream<readonly [K, WidenLiteral<V>]>,
        time,
        (pair) => {
          const key = pair[0];
          partitions?.note(key);
          const cell = reduced.get(key);
          if (cell === undefined) {
            reduced.set(key, { value: pair[1] });
            return;
          }
          try {
            cell.value = fn(cell.value, pair[1]);
          } catch (cause) {
            throw userFunctionError('reduceByKey', cause, pair);
          }
        },
        partitions?.onPartition,
      );
      const pairs: [K, WidenLiteral<V>][] = [];
      for (const [key, cell] of reduced) pairs.push([key, cell.value]);
      return partitions === undefined ? pairs : partitions.order(pairs);
    }),
    keepsSourcePartitions: true,
    foldsRecords: true,
  };
  return source.derive(node);
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * One `[key, value]` per key of the batch, its values folded with `fn` in batch order. Keys are
     * compared with `Map` semantics (SameValueZero: primitives by value, objects by identity) and
     * come out in first-seen order. Literal value types are widened (`1` to `number`), so pairs
     * built with `as const` reduce to numbers.
     *
     * @example
     * words.map((word) => [word, 1] as const).reduceByKey((a, b) => a + b); // DStream<[string, number]>
     */
    reduceByKey<K, V>(
      this: DStream<readonly [K, V], Tx>,
      fn: (accumulated: WidenLiteral<V>, value: WidenLiteral<V>) => WidenLiteral<V>,
    ): DStream<[K, WidenLiteral<V>], Tx>;
  }
}

defineOperator('reduceByKey', reduceByKey);
