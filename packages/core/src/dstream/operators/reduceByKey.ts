import { DStream } from '../DStream';
import { batchOf } from '../batchOf';
import { derivedNode } from '../derivedNode';
import { requireFunction } from '../requireFunction';
import { userFunctionError } from '../userFunctionError';

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
  return new DStream(
    source.context,
    derivedNode<[K, WidenLiteral<V>]>('reduceByKey', [source], async (time) => {
      const records = await batchOf(source, time);
      // Every V is a WidenLiteral<V>: widening only forgets which literal a value was.
      const pairs = records as readonly (readonly [K, WidenLiteral<V>])[];
      const reduced = new Map<K, WidenLiteral<V>>();
      let index = 0;
      try {
        for (; index < pairs.length; index++) {
          const [key, value] = pairs[index];
          // `has`, not `get() === undefined`: undefined is a legitimate reduced value.
          reduced.set(key, reduced.has(key) ? fn(reduced.get(key) as WidenLiteral<V>, value) : value);
        }
      } catch (cause) {
        throw userFunctionError('reduceByKey', cause, records[index]);
      }
      return [...reduced];
    }),
  );
}
