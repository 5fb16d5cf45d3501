import { defineOperator, type DStream } from '../graph';
import { batchOf } from '../batchOf';
import { derivedNode } from '../derivedNode';
import { requireCompatibleStreams } from '../requireCompatibleStreams';

/**
 * The values of each key on both sides, with `Map` key semantics: keys in first-seen order, the
 * left side's keys first, then keys only the right side has.
 */
function cogroupPairs<K, V, W>(
  left: readonly (readonly [K, V])[],
  right: readonly (readonly [K, W])[],
): Map<K, [V[], W[]]> {
  const groups = new Map<K, [V[], W[]]>();
  for (const [key, value] of left) {
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [[value], []]);
    else group[0].push(value);
  }
  for (const [key, value] of right) {
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [[], [value]]);
    else group[1].push(value);
  }
  return groups;
}

/**
 * A stream computed from the cogrouped batches of `left` and `right`: `emit` receives each key with
 * its values on both sides and pushes its results onto `output`. Every join is built on this.
 */
export function cogroupedStream<K, V, W, R>(
  name: string,
  left: DStream<readonly [K, V]>,
  right: DStream<readonly [K, W]>,
  emit: (key: K, values: V[], others: W[], output: R[]) => void,
): DStream<R> {
  requireCompatibleStreams(name, left, [right]);
  return left.derive(
    derivedNode<R>(name, [left, right], async (time) => {
      const [leftPairs, rightPairs] = await Promise.all([batchOf(left, time), batchOf(right, time)]);
      const output: R[] = [];
      for (const [key, [values, others]] of cogroupPairs(leftPairs, rightPairs)) emit(key, values, others, output);
      return output;
    }),
  );
}

/** `left.cogroup(right)`: one `[key, [leftValues, rightValues]]` per key present on either side. */
export function cogroup<K, V, W>(left: DStream<readonly [K, V]>, right: DStream<readonly [K, W]>): DStream<[K, [V[], W[]]]> {
  return cogroupedStream<K, V, W, [K, [V[], W[]]]>('cogroup', left, right, (key, values, others, output) => {
    output.push([key, [values, others]]);
  });
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * One `[key, [values, otherValues]]` per key present in either batch, with that key's values
     * here and in `other` (one side may be empty). Keys compared with `Map` semantics; this
     * stream's keys first, in first-seen order, then keys only `other` has. Same slide rule as `join`.
     *
     * @example
     * views.cogroup(clicks); // [page, [viewsOfPage, clicksOfPage]]
     */
    cogroup<K, V, W>(this: DStream<readonly [K, V], Tx>, other: DStream<readonly [K, W]>): DStream<[K, [V[], W[]]], Tx>;
  }
}

defineOperator('cogroup', cogroup);
