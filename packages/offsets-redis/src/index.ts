/**
 * @dstream/offsets-redis: offsets in Redis hashes, compare-and-set commits and transactions that
 * commit a batch's writes with its offsets.
 */
export { RedisOffsetStore } from './RedisOffsetStore';
export type { RedisOffsetStoreOptions } from './RedisOffsetStore';
