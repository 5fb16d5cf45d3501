import { ConfigError } from '../errors';

/** A topic and partition: the unit Kafka orders records in. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** The map key used for a topic-partition throughout dstream: `topic:partition`. */
export function topicPartitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/** The JSON form of an OffsetRange, as stored in checkpoints and sent to listeners. */
export interface OffsetRangeJSON {
  topic: string;
  partition: number;
  fromOffset: number;
  untilOffset: number;
}

/**
 * The records of one topic-partition that one batch reads: the half-open range
 * [fromOffset, untilOffset). `untilOffset` is the next offset to read after the batch, which is
 * exactly what an offset store keeps once the batch completes. Immutable.
 *
 * @example
 * const range = OffsetRange.create('events', 0, 100, 250);
 * range.count;      // 150
 * String(range);    // "events-0 [100, 250)"
 */
export class OffsetRange implements TopicPartition {
  private constructor(
    readonly topic: string,
    readonly partition: number,
    readonly fromOffset: number,
    readonly untilOffset: number,
  ) {
    Object.freeze(this);
  }

  /** Builds a range, checking that both ends are non-negative integers and `from <= until`. */
  static create(topic: string, partition: number, fromOffset: number, untilOffset: number): OffsetRange {
    if (typeof topic !== 'string' || topic.length === 0) {
      throw new ConfigError('OffsetRange.topic', topic, 'must be a non-empty string', 'Pass the topic name.');
    }
    checkNonNegativeInteger('OffsetRange.partition', partition);
    checkNonNegativeInteger('OffsetRange.fromOffset', fromOffset);
    checkNonNegativeInteger('OffsetRange.untilOffset', untilOffset);
    if (untilOffset < fromOffset) {
      throw new ConfigError(
        'OffsetRange.untilOffset',
        untilOffset,
        `must not be below fromOffset ${fromOffset}`,
        'A range is half-open [fromOffset, untilOffset); pass untilOffset >= fromOffset.',
      );
    }
    return new OffsetRange(topic, partition, fromOffset, untilOffset);
  }

  /** Reads the JSON form back, with the same checks as `create`. */
  static fromJSON(json: OffsetRangeJSON): OffsetRange {
    return OffsetRange.create(json.topic, json.partition, json.fromOffset, json.untilOffset);
  }

  /** Number of offsets in the range (records, unless compaction or transaction markers left gaps). */
  get count(): number {
    return this.untilOffset - this.fromOffset;
  }

  /** `topic:partition`, the key dstream uses for maps. */
  get key(): string {
    return topicPartitionKey(this.topic, this.partition);
  }

  toJSON(): OffsetRangeJSON {
    return { topic: this.topic, partition: this.partition, fromOffset: this.fromOffset, untilOffset: this.untilOffset };
  }

  toString(): string {
    return `${this.topic}-${this.partition} [${this.fromOffset}, ${this.untilOffset})`;
  }
}

function checkNonNegativeInteger(option: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(option, value, 'must be a non-negative safe integer', 'Pass a Kafka offset or partition number.');
  }
}
