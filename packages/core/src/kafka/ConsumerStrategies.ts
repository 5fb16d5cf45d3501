import { ConfigError } from '../errors';
import { TopicPartition, topicPartitionKey } from '../offsets/OffsetRange';
import type { TopicPartitionOffset } from './KafkaClient';

/**
 * Which partitions a direct stream reads, and where to start those with no stored offset. Made by
 * `ConsumerStrategies`; each strategy's arguments are checked when it is made.
 */
export type ConsumerStrategy =
  | { readonly kind: 'Subscribe'; readonly topics: readonly string[]; readonly offsets: ReadonlyMap<string, number> }
  | { readonly kind: 'SubscribePattern'; readonly pattern: RegExp; readonly offsets: ReadonlyMap<string, number> }
  | {
      readonly kind: 'Assign';
      readonly partitions: readonly TopicPartition[];
      readonly offsets: ReadonlyMap<string, number>;
    };

/** Kafka's rule for topic names: 1 to 249 characters of `[a-zA-Z0-9._-]`. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

function checkTopic(option: string, topic: unknown): string {
  if (typeof topic !== 'string' || !TOPIC_NAME.test(topic)) {
    throw new ConfigError(
      option,
      topic,
      'must be a Kafka topic name (1-249 characters of letters, digits, ".", "_" and "-")',
      'Pass the topic name as it appears in the cluster.',
    );
  }
  return topic;
}

function checkPartition(option: string, partition: unknown): number {
  if (typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0) {
    throw new ConfigError(option, partition, 'must be a non-negative integer partition id', 'Pass e.g. 0.');
  }
  return partition;
}

/**
 * Checks explicit start offsets and keys them by `topic:partition`. `allowed` says which
 * partitions may have one (for Assign: only the assigned ones).
 */
function startOffsets(
  option: string,
  offsets: readonly TopicPartitionOffset[] | undefined,
  allowed: (topic: string, partition: number) => boolean,
  allowedRule: string,
): ReadonlyMap<string, number> {
  const result = new Map<string, number>();
  if (offsets === undefined) return result;
  if (!Array.isArray(offsets)) {
    throw new ConfigError(
      option,
      offsets,
      'must be an array of { topic, partition, offset }',
      'Pass e.g. [{ topic: "events", partition: 0, offset: 42 }], or omit it.',
    );
  }
  for (const [index, entry] of offsets.entries()) {
    const topic = checkTopic(`${option}[${index}].topic`, entry?.topic);
    const partition = checkPartition(`${option}[${index}].partition`, entry?.partition);
    const offset = entry.offset;
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new ConfigError(
        `${option}[${index}].offset`,
        offset,
        'must be a non-negative integer offset (the next record to read)',
        'Pass the offset of the first record to read.',
      );
    }
    const key = topicPartitionKey(topic, partition);
    if (result.has(key)) {
      throw new ConfigError(option, offsets, `lists ${topic}-${partition} twice`, 'Give each partition one offset.');
    }
    if (!allowed(topic, partition)) {
      throw new ConfigError(option, entry, allowedRule, 'Remove the entry, or add its partition or topic.');
    }
    result.set(key, offset);
  }
  return result;
}

/**
 * How a direct stream finds its partitions (Spark's `ConsumerStrategies`): join the consumer group
 * for topics or a pattern, or read fixed partitions. `offsets` are explicit start offsets, used only
 * for partitions whose offset store holds nothing.
 *
 * @example
 * ConsumerStrategies.Subscribe(['events']);
 * ConsumerStrategies.SubscribePattern(/^events-.*$/);
 * ConsumerStrategies.Assign([{ topic: 'events', partition: 0 }], [{ topic: 'events', partition: 0, offset: 42 }]);
 */
export const ConsumerStrategies = {
  /**
   * Joins the consumer group (`group.id`) for these topics: Kafka splits their partitions among
   * the group's members and moves them on rebalance.
   */
  Subscribe(topics: readonly string[], offsets?: readonly TopicPartitionOffset[]): ConsumerStrategy {
    if (!Array.isArray(topics) || topics.length === 0) {
      throw new ConfigError(
        'ConsumerStrategies.Subscribe(topics)',
        topics,
        'must be a non-empty array of topic names',
        'Pass e.g. ["events"]; to match topics by name use SubscribePattern.',
      );
    }
    const names = topics.map((topic, index) => checkTopic(`ConsumerStrategies.Subscribe(topics)[${index}]`, topic));
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate !== undefined) {
      throw new ConfigError('ConsumerStrategies.Subscribe(topics)', topics, `lists ${duplicate} twice`, 'List each topic once.');
    }
    const subscribed = new Set(names);
    return {
      kind: 'Subscribe',
      topics: names,
      offsets: startOffsets(
        'ConsumerStrategies.Subscribe(offsets)',
        offsets,
        (topic) => subscribed.has(topic),
        'names a topic that is not subscribed',
      ),
    };
  },

  /**
   * Joins the consumer group for every topic whose name matches `pattern`, including topics
   * created while the stream runs (found at each metadata refresh, see `metadataRefreshMs`).
   * The pattern must use syntax librdkafka's regex engine shares with JavaScript (no flags,
   * lookarounds or backreferences).
   */
  SubscribePattern(pattern: RegExp, offsets?: readonly TopicPartitionOffset[]): ConsumerStrategy {
    if (!(pattern instanceof RegExp)) {
      if (typeof pattern === 'string') {
        try {
          new RegExp(pattern);
        } catch (error) {
          throw new ConfigError(
            'ConsumerStrategies.SubscribePattern(pattern)',
            pattern,
            `must be a RegExp, and is not even a valid pattern (${(error as Error).message})`,
            'Pass a RegExp literal such as /^events-.*$/.',
          );
        }
      }
      throw new ConfigError(
        'ConsumerStrategies.SubscribePattern(pattern)',
        pattern,
        'must be a RegExp',
        `Pass a RegExp literal such as /^events-.*$/${typeof pattern === 'string' ? ` or new RegExp(${JSON.stringify(pattern)})` : ''}.`,
      );
    }
    if (pattern.flags.replace(/[gy]/g, '') !== '') {
      throw new ConfigError(
        'ConsumerStrategies.SubscribePattern(pattern)',
        pattern,
        'must have no flags: the broker-side match (librdkafka) knows none',
        'Drop the flags; for case-insensitive matching spell both cases, e.g. /^[Ee]vents/.',
      );
    }
    if (/\(\?[=!<]|\\[1-9]/.test(pattern.source)) {
      throw new ConfigError(
        'ConsumerStrategies.SubscribePattern(pattern)',
        pattern,
        'must not use lookarounds or backreferences: librdkafka matches topics with a POSIX-style engine',
        'Rewrite the pattern with plain alternation and character classes.',
      );
    }
    return {
      kind: 'SubscribePattern',
      pattern: new RegExp(pattern.source),
      offsets: startOffsets(
        'ConsumerStrategies.SubscribePattern(offsets)',
        offsets,
        (topic) => pattern.test(topic),
        'names a topic that the pattern does not match',
      ),
    };
  },

  /** Reads exactly these partitions, outside group management (no rebalancing). */
  Assign(partitions: readonly TopicPartition[], offsets?: readonly TopicPartitionOffset[]): ConsumerStrategy {
    if (!Array.isArray(partitions) || partitions.length === 0) {
      throw new ConfigError(
        'ConsumerStrategies.Assign(partitions)',
        partitions,
        'must be a non-empty array of { topic, partition }',
        'Pass e.g. [{ topic: "events", partition: 0 }].',
      );
    }
    const keys = new Set<string>();
    const checked = partitions.map((entry, index) => {
      const topic = checkTopic(`ConsumerStrategies.Assign(partitions)[${index}].topic`, entry?.topic);
      const partition = checkPartition(`ConsumerStrategies.Assign(partitions)[${index}].partition`, entry?.partition);
      const key = topicPartitionKey(topic, partition);
      if (keys.has(key)) {
        throw new ConfigError(
          'ConsumerStrategies.Assign(partitions)',
          partitions,
          `lists ${topic}-${partition} twice`,
          'List each partition once.',
        );
      }
      keys.add(key);
      return { topic, partition };
    });
    return {
      kind: 'Assign',
      partitions: checked,
      offsets: startOffsets(
        'ConsumerStrategies.Assign(offsets)',
        offsets,
        (topic, partition) => keys.has(topicPartitionKey(topic, partition)),
        'names a partition that is not in the assigned partitions',
      ),
    };
  },
} as const;
