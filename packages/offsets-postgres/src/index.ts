/**
 * @dstream/offsets-postgres: offsets in a PostgreSQL table, compare-and-set commits and one
 * transaction for a batch's results and its offsets.
 */
export { PostgresOffsetStore } from './PostgresOffsetStore';
export type { PostgresOffsetStoreOptions } from './PostgresOffsetStore';
