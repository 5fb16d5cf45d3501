/**
 * The direct stream's consumer when records are fetched in JavaScript: librdkafka keeps the group
 * membership, commits, metadata and offset lookups (an `RdKafkaConsumerClient` whose partitions
 * stay paused), and a `WireFetcher` reads the records from the partition leaders.
 *
 * If a broker or the data needs what the wire fetcher cannot do (a compression codec it does not
 * decode, a broker without Fetch v11), the client hands every partition over to librdkafka at the
 * position the wire fetcher reached, and from then on consumes through it: the job goes on, slower.
 */
import { KafkaError } from '../../errors';
import type { TopicPartition } from '../../offsets/OffsetRange';
import type { GroupMetadata } from '../../offsets/OffsetStore';
import type { Logger } from '../../util/Logger';
import type {
  ClusterMetadata,
  ConsumeResult,
  FetchedRecord,
  KafkaConsumerClient,
  RebalanceEvent,
  RecordBuilder,
  TopicPartitionOffset,
  WatermarkOffsets,
} from '../kafkaCapabilities';
import type { RdKafkaConsumerClient } from '../RdKafkaConsumerClient';
import { WireFetcher } from './WireFetcher';

/** How often librdkafka's consumer is polled while records come from the wire: it serves rebalances and commit answers. */
const CALLBACK_POLL_MS = 100;
/** The callback poll stops once `consume` has not been called for this long (the fetch loop stopped). */
const IDLE_STOP_MS = 1000;

/** librdkafka settings the wire fetcher reads, with librdkafka's defaults. */
function numberSetting(config: Readonly<Record<string, unknown>>, name: string, fallback: number): number {
  const value = Number(config[name]);
  return Number.isFinite(value) && config[name] !== undefined && config[name] !== '' ? value : fallback;
}

/** Whether the wire fetcher can talk to these brokers: plaintext only (TLS and SASL stay with librdkafka). */
export function canFetchOverWire(config: Readonly<Record<string, unknown>>): boolean {
  const protocol = String(config['security.protocol'] ?? 'plaintext').toLowerCase();
  return protocol === 'plaintext';
}

/** A `KafkaConsumerClient` whose records come from a `WireFetcher`; see the file comment. */
export class WireConsumerClient implements KafkaConsumerClient {
  readonly brokers: string;
  readonly groupMetadata: GroupMetadata;
  private readonly wire: WireFetcher;
  /** Set once librdkafka fetches instead (see the file comment). */
  private isHandedOver = false;
  private handover: Promise<void> | undefined;
  private lastConsumeMs = 0;
  private poller: Promise<void> | undefined;
  private isClosed = false;

  constructor(
    private readonly inner: RdKafkaConsumerClient,
    config: Readonly<Record<string, unknown>>,
    private readonly logger: Logger | undefined,
  ) {
    this.brokers = inner.brokers;
    this.groupMetadata = inner.groupMetadata;
    const timeoutMs = numberSetting(config, 'socket.connection.setup.timeout.ms', 30_000);
    this.wire = new WireFetcher({
      lookUpLeaders: (topics) => inner.partitionLeaders(topics, timeoutMs),
      clientId: String(config['client.id'] ?? 'dstream'),
      isReadCommitted: String(config['isolation.level'] ?? 'read_committed') === 'read_committed',
      maxWaitMs: numberSetting(config, 'fetch.wait.max.ms', 500),
      minBytes: numberSetting(config, 'fetch.min.bytes', 1),
      maxBytes: numberSetting(config, 'fetch.max.bytes', 52_428_800),
      partitionMaxBytes: numberSetting(config, 'max.partition.fetch.bytes', 1_048_576),
      queueBytes: numberSetting(config, 'queued.max.messages.kbytes', 65_536) * 1024,
      connectTimeoutMs: timeoutMs,
      requestTimeoutMs: numberSetting(config, 'socket.timeout.ms', 60_000),
      logger,
      onUnsupported: (reason) => void this.handOver(reason),
    });
  }

  connect(timeoutMs: number): Promise<void> {
    return this.inner.connect(timeoutMs);
  }

  getMetadata(timeoutMs: number): Promise<ClusterMetadata> {
    return this.inner.getMetadata(timeoutMs);
  }

  queryWatermarkOffsets(partition: TopicPartition, timeoutMs: number): Promise<WatermarkOffsets> {
    return this.inner.queryWatermarkOffsets(partition, timeoutMs);
  }

  cachedWatermarkOffsets(partition: TopicPartition): WatermarkOffsets | undefined {
    return this.isHandedOver ? this.inner.cachedWatermarkOffsets(partition) : this.wire.cachedWatermarkOffsets(partition);
  }

  offsetsForTimes(partitions: readonly TopicPartitionOffset[], timeoutMs: number): Promise<TopicPartitionOffset[]> {
    return this.inner.offsetsForTimes(partitions, timeoutMs);
  }

  assign(partitions: readonly TopicPartitionOffset[]): void {
    this.inner.assign(partitions);
    if (this.isHandedOver) return;
    // librdkafka only keeps the assignment (and, in a group, acknowledges it): the records come
    // from the wire. A pause right away means it fetches nothing, or drops what it had.
    this.inner.pause(partitions);
    this.wire.assign(partitions);
  }

  unassign(): void {
    this.wire.unassign();
    this.inner.unassign();
  }

  incrementalAssign(partitions: readonly TopicPartitionOffset[]): void {
    this.inner.incrementalAssign(partitions);
    if (this.isHandedOver) return;
    this.inner.pause(partitions);
    this.wire.incrementalAssign(partitions);
  }

  incrementalUnassign(partitions: readonly TopicPartition[]): void {
    this.wire.incrementalUnassign(partitions);
    this.inner.incrementalUnassign(partitions);
  }

  rebalanceProtocol(): string {
    return this.inner.rebalanceProtocol();
  }

  subscribe(topics: ReadonlyArray<string | RegExp>, onRebalance: (event: RebalanceEvent) => void): void {
    this.inner.subscribe(topics, onRebalance);
  }

  async consume<R extends FetchedRecord>(maxMessages: number, timeoutMs: number, build: RecordBuilder<R>): Promise<ConsumeResult<R>> {
    if (this.isHandedOver) {
      await this.handover;
      return this.inner.consume(maxMessages, timeoutMs, build);
    }
    this.lastConsumeMs = Date.now();
    this.poller ??= this.pollCallbacks().finally(() => (this.poller = undefined));
    return this.wire.consume(maxMessages, timeoutMs, build);
  }

  pause(partitions: readonly TopicPartition[]): void {
    if (this.isHandedOver) this.inner.pause(partitions);
    else this.wire.pause(partitions);
  }

  resume(partitions: readonly TopicPartition[]): void {
    if (this.isHandedOver) this.inner.resume(partitions);
    else this.wire.resume(partitions);
  }

  async seek(position: TopicPartitionOffset, timeoutMs: number): Promise<void> {
    if (this.isHandedOver) return this.inner.seek(position, timeoutMs);
    this.wire.seek(position);
  }

  position(partitions: readonly TopicPartition[]): TopicPartitionOffset[] {
    return this.isHandedOver ? this.inner.position(partitions) : this.wire.position(partitions);
  }

  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    return this.inner.commit(offsets);
  }

  committed(partitions: readonly TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]> {
    return this.inner.committed(partitions, timeoutMs);
  }

  async disconnect(): Promise<void> {
    this.isClosed = true;
    this.wire.close();
    await this.poller;
    await this.inner.disconnect();
  }

  /**
   * Polls librdkafka while the fetch loop runs: its callbacks (rebalances, commit answers) are
   * served only from inside a consume call, and a consumer that stops calling is dropped from
   * the group after `max.poll.interval.ms`. Its partitions are paused, so it returns no records
   * but ones fetched in the moment before a pause took effect, which are dropped: the wire
   * fetcher delivers those.
   */
  private async pollCallbacks(): Promise<void> {
    const drop = (): FetchedRecord => DROPPED;
    while (!this.isClosed && !this.isHandedOver && Date.now() - this.lastConsumeMs < IDLE_STOP_MS) {
      try {
        await this.inner.consume(1, CALLBACK_POLL_MS, drop);
      } catch (error) {
        // The wire fetcher reports the fetch failures that matter; this consumer fetches nothing.
        this.logger?.debug(`librdkafka poll: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, CALLBACK_POLL_MS));
      }
    }
  }

  /** Moves every partition to librdkafka at the wire fetcher's positions; see the file comment. */
  private handOver(reason: string): Promise<void> {
    if (this.handover !== undefined) return this.handover;
    this.logger?.warn(`${reason}; librdkafka fetches this stream's partitions from here on`);
    const positions = this.wire.positions();
    this.isHandedOver = true;
    this.wire.close();
    this.handover = (async () => {
      await this.poller;
      for (const { isPaused, ...position } of positions) {
        try {
          await this.inner.seek(position, 10_000);
        } catch (error) {
          throw new KafkaError(`could not move ${position.topic}-${position.partition} to librdkafka's fetcher at ${position.offset}`, {
            retriable: true,
            cause: error,
          });
        }
        if (!isPaused) this.inner.resume([position]);
      }
    })();
    this.handover.catch(() => undefined);
    return this.handover;
  }
}

const DROPPED: FetchedRecord = Object.freeze({ topic: '', partition: -1, offset: -1 });
