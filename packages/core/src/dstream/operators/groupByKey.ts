import { DStream } from '../DStream';
import { batchOf } from '../batchOf';
import { derivedNode } from '../derivedNode';

/** Groups pairs by key with `Map` semantics: the values of each key in batch order, keys in first-seen order. */
export function groupPairs<K, V>(pairs: readonly (readonly [K, V])[]): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  for (const [key, value] of pairs) {
    const values = groups.get(key);
    if (values === undefined) groups.set(key, [value]);
    else values.push(value);
  }
  return groups;
}

/** `source.groupByKey()`: one `[key, values]` per key of the batch, in first-seen key order. */
export function groupByKey<K, V>(source: DStream<readonly [K, V]>): DStream<[K, V[]]> {
  return new DStream(
    source.context,
    derivedNode<[K, V[]]>('groupByKey', [source], async (time) => [...groupPairs(await batchOf(source, time))]),
  );
}
