/**
 * @dstream/test-utils: what tests, examples' tests and benchmarks share. Service addresses from
 * DSTREAM_* (loopback defaults), the check that a service is up, unique names, `waitFor`, topics,
 * producing and reading records, and the consumer group view of Kafka's tools. The crash harness
 * is the `@dstream/test-utils/crash` subpath. Private: never a dependency of a published package.
 */
export { hostPortOf, localServiceAddresses, requireService, saslListener, services } from './services';
export type { ServiceName } from './services';
export { uniqueName } from './uniqueName';
export { sleep, waitFor } from './waitFor';
export { addPartitions, createTopic, deleteTopic, ensureTopic, waitForPartitions } from './topics';
export type { ClientConfig, CreateTopicOptions } from './topics';
export { produce, readTopic } from './records';
export { describeGroup } from './describeGroup';
