import { ConfigError, createKafkaLogReader, KafkaError } from '@dstream/core';
import type { KafkaLogReader, TopicPartition, WatermarkOffsets } from '@dstream/core';
import { describeGroup, GroupDescription } from './describeGroup';
import type { Progress } from '../output/Progress';

/** Partitions of one topic with their log bounds. */
export interface PartitionLog extends TopicPartition {
  /** First offset still stored. */
  readonly logStart: number;
  /** Next offset to be written. */
  readonly logEnd: number;
}

/** Queries in flight at once when reading many partitions' log bounds. */
const CONCURRENCY = 16;

/**
 * The CLI's view of the Kafka cluster: which partitions a topic has, where each log starts and
 * ends, offsets by time, and who is in a consumer group. Connects on first use.
 */
export class KafkaCluster {
  private reader: Promise<KafkaLogReader> | undefined;

  constructor(
    readonly brokers: string,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Partitions of `topics` (every topic but Kafka's internal `__…` ones when undefined), sorted.
   * A named topic the cluster lacks is a `ConfigError` naming `--topic`.
   */
  async partitions(topics?: readonly string[]): Promise<TopicPartition[]> {
    const metadata = await (await this.connected()).getMetadata(this.timeoutMs);
    const byName = new Map(metadata.topics.map((topic) => [topic.name, topic.partitions]));
    const names = topics ?? [...byName.keys()].filter((name) => !name.startsWith('__'));
    const partitions: TopicPartition[] = [];
    for (const topic of names) {
      const ids = byName.get(topic);
      if (ids === undefined || ids.length === 0) {
        throw new ConfigError(
          '--topic',
          topic,
          `must name a topic of the cluster at ${this.brokers}`,
          'Check the name (kafka-topics --list shows them), or --bootstrap-servers if the topic lives on another cluster.',
        );
      }
      for (const partition of ids) partitions.push({ topic, partition });
    }
    return partitions.sort(comparePartitions);
  }

  /** Log bounds of each partition, in the order given; `progress` counts them. */
  async logs(partitions: readonly TopicPartition[], progress?: Progress): Promise<PartitionLog[]> {
    const reader = await this.connected();
    const result = new Array<PartitionLog>(partitions.length);
    let next = 0;
    const worker = async () => {
      while (next < partitions.length) {
        const index = next++;
        const { topic, partition } = partitions[index];
        const { low, high }: WatermarkOffsets = await reader.queryWatermarkOffsets({ topic, partition }, this.timeoutMs);
        result[index] = { topic, partition, logStart: low, logEnd: high };
        progress?.tick();
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, partitions.length) }, worker));
    return result;
  }

  /** For each partition, the first offset whose record time is at or after `timeMs`; -1 where none is. */
  async offsetsForTime(partitions: readonly TopicPartition[], timeMs: number): Promise<Map<string, number>> {
    const reader = await this.connected();
    const found = await reader.offsetsForTimes(
      partitions.map(({ topic, partition }) => ({ topic, partition, offset: timeMs })),
      this.timeoutMs,
    );
    return new Map(found.map(({ topic, partition, offset }) => [`${topic}:${partition}`, offset]));
  }

  /** The consumer group's state and members, as its coordinator reports them. */
  describeGroup(group: string): Promise<GroupDescription> {
    return describeGroup(this.brokers, group, this.timeoutMs);
  }

  /** Closes the connection, if one was made. Idempotent. */
  async close(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await (await reader.catch(() => undefined))?.disconnect();
  }

  private connected(): Promise<KafkaLogReader> {
    this.reader ??= (async () => {
      const reader = createKafkaLogReader({ 'bootstrap.servers': this.brokers, 'client.id': 'dstream-cli' });
      try {
        await reader.connect(this.timeoutMs);
      } catch (error) {
        throw new KafkaError(
          `could not reach Kafka at ${this.brokers} within ${this.timeoutMs} ms (${(error as Error).message}). The CLI ` +
            'reads partitions and log ends there: pass the cluster with --bootstrap-servers, or raise --timeout-ms',
          { retriable: true, cause: error },
        );
      }
      return reader;
    })();
    return this.reader;
  }
}

/** Orders partitions by topic, then partition number. */
export function comparePartitions(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}
