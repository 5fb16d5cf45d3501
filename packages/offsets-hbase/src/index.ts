/**
 * @dstream/offsets-hbase: offsets in HBase through its REST gateway, one row per consumer group
 * with a version cell for compare-and-set, and `<topic>:<group>:<batchTime>` history rows to
 * rewind to.
 */
export { HBaseOffsetStore } from './HBaseOffsetStore';
export { encodeKeyPart, groupRowKey, historyPrefix } from './hbaseRowKeys';
export type { HBaseOffsetStoreOptions, HBaseOffsetHistoryEntry } from './HBaseOffsetStore';
