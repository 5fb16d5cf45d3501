import { defineOperator, type DStream } from '../graph';
import { forEachRecord } from '../FusedNode';
import { derivedNode } from '../derivedNode';

/** Adds one pair's value to its key's group: values in batch order, keys in first-seen order (`Map` semantics). */
export function addToGroup<K, V>(groups: Map<K, V[]>, pair: readonly [K, V]): void {
  const values = groups.get(pair[0]);
  if (values === undefined) groups.set(pair[0], [pair[1]]);
  else values.push(pair[1]);
}

/** `source.groupByKey()`: one `[key, values]` per key of the batch, in first-seen key order. */
export function groupByKey<K, V>(source: DStream<readonly [K, V]>): DStream<[K, V[]]> {
  return source.derive(
    derivedNode<[K, V[]]>('groupByKey', [source], async (time) => {
      const groups = new Map<K, V[]>();
      // Grouped as the pairs are produced: only the values outlive the chain, not the pairs.
      await forEachRecord(source, time, (pair) => addToGroup(groups, pair));
      return [...groups];
    }),
  );
}

declare module '../graph' {
  interface DStream<T> {
    /**
     * One `[key, values]` per key of the batch, values in batch order. Keys are compared with `Map`
     * semantics (SameValueZero: primitives by value, objects by identity), in first-seen order.
     *
     * @example
     * clicks.map((click) => [click.userId, click.url] as const).groupByKey();
     */
    groupByKey<K, V>(this: DStream<readonly [K, V]>): DStream<[K, V[]]>;
  }
}

defineOperator('groupByKey', groupByKey);
