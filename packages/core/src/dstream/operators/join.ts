import { defineOperator, type DStream } from '../graph';
import { cogroupedStream } from './cogroup';

/** The stand-in for the values of a side that lacks a key, in outer joins: one `undefined`. */
export const NO_MATCH: readonly [undefined] = [undefined];

/** Pushes `[key, [v, w]]` for every pair of values: the cross product an inner join makes per key. */
export function pushPairs<K, V, W>(key: K, values: readonly V[], others: readonly W[], output: [K, [V, W]][]): void {
  for (const value of values) for (const other of others) output.push([key, [value, other]]);
}

/** `left.join(right)`: `[key, [v, w]]` for every v and w of a key present on both sides. */
export function join<K, V, W>(left: DStream<readonly [K, V]>, right: DStream<readonly [K, W]>): DStream<[K, [V, W]]> {
  return cogroupedStream<K, V, W, [K, [V, W]]>('join', left, right, pushPairs);
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * `[key, [v, w]]` for every value `v` here and `w` in `other` of a key both batches have
     * (inner join). Keys are compared with `Map` semantics (SameValueZero: primitives by value,
     * objects by identity); output follows this stream's first-seen key order. Both streams must
     * share this context and slide (else `ConfigError`).
     *
     * @example
     * orders.join(payments); // [orderId, [order, payment]]
     */
    join<K, V, W>(this: DStream<readonly [K, V], Tx>, other: DStream<readonly [K, W]>): DStream<[K, [V, W]], Tx>;
  }
}

defineOperator('join', join);
