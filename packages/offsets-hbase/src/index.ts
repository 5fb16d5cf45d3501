/**
 * @dstream/offsets-hbase: offsets in HBase through its REST gateway, one row per consumer group
 * with a version cell for compare-and-set, and `<topic>:<group>:<batchTime>` history rows to
 * rewind to.
 */
export { HBaseOffsetStore, encodeKeyPart, groupRowKey, historyPrefix } from './HBaseOffsetStore';
export type { HBaseOffsetStoreOptions, HBaseOffsetHistoryEntry } from './HBaseOffsetStore';
