import { defineOperator, type DStream, type DStreamNode } from '../graph';
import { forEachRecord } from '../FusedNode';
import { derivedNode } from '../derivedNode';
import { KeyPartitions } from '../sourcePartitions';

/** Adds one pair's value to its key's group: values in batch order, keys in first-seen order (`Map` semantics). */
export function addToGroup<K, V>(groups: Map<K, V[]>, pair: readonly [K, V]): void {
  const values = groups.get(pair[0]);
  if (values === undefined) groups.set(pair[0], [pair[1]]);
  else values.push(pair[1]);
}

/** `source.groupByKey()`: one `[key, values]` per key of the batch, in first-seen key order. */
export function groupByKey<K, V>(source: DStream<readonly [K, V]>): DStream<[K, V[]]> {
  const node: DStreamNode<[K, V[]]> = {
    ...derivedNode<[K, V[]]>('groupByKey', [source], async (time) => {
      const groups = new Map<K, V[]>();
      // Source partitions only for a stateful operator downstream that keeps state per partition.
      const partitions = node.checksKeyPartitions === true ? new KeyPartitions<K>('groupByKey') : undefined;
      // Grouped as the pairs are produced: only the values outlive the chain, not the pairs.
      await forEachRecord(
        source,
        time,
        (pair) => {
          partitions?.note(pair[0]);
          addToGroup(groups, pair);
        },
        partitions?.onPartition,
      );
      return partitions === undefined ? [...groups] : partitions.order([...groups]);
    }),
    keepsSourcePartitions: true,
    foldsRecords: true,
  };
  return source.derive(node);
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * One `[key, values]` per key of the batch, values in batch order. Keys are compared with `Map`
     * semantics (SameValueZero: primitives by value, objects by identity), in first-seen order.
     *
     * @example
     * clicks.map((click) => [click.userId, click.url] as const).groupByKey();
     */
    groupByKey<K, V>(this: DStream<readonly [K, V], Tx>): DStream<[K, V[]], Tx>;
  }
}

defineOperator('groupByKey', groupByKey);
