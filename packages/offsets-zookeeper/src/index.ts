/**
 * @dstream/offsets-zookeeper: offsets in ZooKeeper, in the layout Kafka's ZooKeeper-based
 * consumers and tools read (`/consumers/<group>/offsets/<topic>/<partition>`).
 */
export { ZooKeeperOffsetStore } from './ZooKeeperOffsetStore';
export type { ZooKeeperOffsetStoreOptions } from './ZooKeeperOffsetStore';
