/** The librdkafka consumer configuration of a direct stream: its defaults, the job's, and what the stream forces. */
import type { ResolvedDirectStreamOptions } from './DirectStreamOptions';
import { DEFAULT_SESSION_TIMEOUT_MS } from './PartitionOwnership';

/** Default `heartbeat.interval.ms` (a third of `session.timeout.ms` when that is shorter). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;

/** Default `partition.assignment.strategy`: the cooperative (incremental) protocol. */
export const DEFAULT_ASSIGNMENT_STRATEGY = 'cooperative-sticky';

/** The consumer's configuration: `fetchDefaults`, the stream's defaults, `kafkaParams`, then what the stream owns. */
export function consumerConfig<K, V>(options: ResolvedDirectStreamOptions<K, V>): Record<string, unknown> {
  return {
    ...fetchDefaults(options.maxBatchBytes),
    // Incremental rebalances: members that stay keep their partitions (and read-ahead) while
    // one joins or leaves, instead of everyone stopping for every change.
    'partition.assignment.strategy': DEFAULT_ASSIGNMENT_STRATEGY,
    // A member that died is noticed after this long (Kafka's default is 45 s): failover time.
    'session.timeout.ms': DEFAULT_SESSION_TIMEOUT_MS,
    // A member learns of a rebalance from its next heartbeat's answer, and a cooperative
    // rebalance takes two: with librdkafka's 3000 ms, a second worker joining took ~5 s to get its
    // first partitions; with 1000 ms, ~1.5 s (docs/benchmarks.md).
    'heartbeat.interval.ms': Math.min(
      DEFAULT_HEARTBEAT_INTERVAL_MS,
      Math.floor(Number(options.kafkaParams['session.timeout.ms'] ?? DEFAULT_SESSION_TIMEOUT_MS) / 3),
    ),
    ...options.kafkaParams,
    'enable.auto.commit': false,
    'enable.auto.offset.store': false,
    'enable.partition.eof': true,
    // Fail the fetch instead of librdkafka's default silent jump to the log end: where to
    // resume after an out-of-range offset is the `offsetOutOfRange` policy's decision.
    'auto.offset.reset': 'error',
    'topic.metadata.refresh.interval.ms': options.metadataRefreshMs,
  };
}

/**
 * librdkafka settings the stream uses unless `kafkaParams` set them. Fetches of at least 1 MiB
 * (or whatever arrived within 100 ms) and a deep prefetch queue take a `consume(10000)` loop from
 * ~110 k to ~230 k records/s here (docs/benchmarks.md); the queue is bounded in bytes by a
 * quarter of the batch budget, so its memory stays bounded whatever the backlog.
 */
function fetchDefaults(maxBatchBytes: number): Record<string, number> {
  return {
    // librdkafka's default (500 ms) holds an empty fetch that long at the broker; a query of the
    // log end made meanwhile (reconciliation, a partition never fetched) waits behind it, and
    // a fresh record waits for it to return.
    'fetch.wait.max.ms': 100,
    'fetch.min.bytes': 2 ** 20,
    // The kbytes bound has priority over the message count, so the count only stops librdkafka's
    // default (100 000) from ending prefetch early.
    'queued.min.messages': 1_000_000,
    // Once the queue is at its bound, librdkafka's default waits 1000 ms before it fetches the
    // partition again: a consumer that drained the queue meanwhile sits idle for the rest of that
    // second. 50 ms measured ~100 k records/s against ~80 k with the default (docs/benchmarks.md).
    'fetch.queue.backoff.ms': 50,
    'queued.max.messages.kbytes': Math.max(1024, Math.floor(maxBatchBytes / 4 / 1024)),
  };
}
