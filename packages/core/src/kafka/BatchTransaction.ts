import type { OffsetStore } from '../offsets/OffsetStore';
import type { DeliverySemantics, Deserializer, DirectStreamOptions } from './DirectStreamOptions';

/** The handle a store's `transaction` gives its work (`PoolClient`, `ChainableCommander`, …). */
export type StoreTransaction<S> = S extends OffsetStore<infer Tx> ? Tx : unknown;

/** What a store's outputs get under exactly-once: its transaction, when the store declares it has one. */
type TransactionOf<S> = S extends { readonly supportsTransactions: true }
  ? StoreTransaction<S>
  : S extends { readonly supportsTransactions: false }
    ? undefined
    : StoreTransaction<S> | undefined;

/**
 * The type of `batch.transaction` in the outputs of a direct stream created with options `O`:
 * the offset store's transaction with `delivery: 'exactly-once'` on a transactional store (the
 * outputs run inside it), `undefined` with any other delivery or with `idempotentOutput: true`,
 * and both when the options leave it open (a `delivery` or store typed only as the union).
 *
 * @example
 * type Tx = BatchTransaction<{ offsetStore: PostgresOffsetStore; delivery: 'exactly-once'; … }>; // PoolClient
 */
export type BatchTransaction<O> = O extends { readonly offsetStore: infer S }
  ? O extends { readonly delivery: 'exactly-once' }
    ? O extends { readonly idempotentOutput: true }
      ? undefined
      : O extends { readonly idempotentOutput: false }
        ? TransactionOf<S>
        : O extends { readonly idempotentOutput: boolean }
          ? TransactionOf<S> | undefined
          : TransactionOf<S>
    : O extends { readonly delivery: 'at-most-once' | 'at-least-once' }
      ? undefined
      : O extends { readonly delivery: DeliverySemantics }
        ? TransactionOf<S> | undefined
        : undefined
  : unknown;
// (Each test names the property as required: a type of optional properties only is a weak type,
// which an object lacking them does not extend.)

/** What a deserializer option makes of a key or value: `'string'` a string, `'json'` unknown, a function its result. */
export type Deserialized<D> = D extends 'string'
  ? string
  : D extends 'json'
    ? unknown
    : D extends (data: Buffer | null) => infer T
      ? T
      : Buffer | null;

/** The record key type of a direct stream created with options `O` (from `keyDeserializer`). */
export type KeyOf<O> = O extends { readonly keyDeserializer: infer D } ? Deserialized<D> : Buffer | null;

/** The record value type of a direct stream created with options `O` (from `valueDeserializer`). */
export type ValueOf<O> = O extends { readonly valueDeserializer: infer D } ? Deserialized<D> : Buffer | null;

/** Options of a direct stream as `createDirectStream` infers them: any keys, values and store. */
export type AnyDirectStreamOptions = DirectStreamOptions<any, any> & { readonly keyDeserializer?: Deserializer<any>; readonly valueDeserializer?: Deserializer<any> };
