import { topicPartitionKey } from '@dstream/core';
import type { StoredOffsets } from '@dstream/core';
import type { PartitionLog } from '../kafka/KafkaCluster';
import type { OffsetChange } from './OffsetChange';

/** Where `offsets reset` moves each partition. */
export type ResetTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'datetime'; readonly timeMs: number }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'shift'; readonly by: number };

/**
 * The change `target` makes to each partition, given its log bounds and stored offset; for
 * `datetime`, `offsetsForTime` holds each partition's first offset at or after the time (-1:
 * none, so the log end). Targets outside [logStart, logEnd] are clamped to the nearest bound, as
 * `kafka-consumer-groups --reset-offsets` does, with a note saying so; `shift` leaves partitions
 * with nothing stored alone (there is nothing to shift from).
 */
export function planReset(
  logs: readonly PartitionLog[],
  stored: StoredOffsets,
  target: ResetTarget,
  offsetsForTime: ReadonlyMap<string, number> = new Map(),
): OffsetChange[] {
  return logs.map(({ topic, partition, logStart, logEnd }) => {
    const key = topicPartitionKey(topic, partition);
    const current = stored.get(key) ?? null;
    let wanted: number;
    switch (target.kind) {
      case 'earliest':
        wanted = logStart;
        break;
      case 'latest':
        wanted = logEnd;
        break;
      case 'offset':
        wanted = target.offset;
        break;
      case 'datetime': {
        const found = offsetsForTime.get(key) ?? -1;
        if (found < 0) return { topic, partition, current, target: logEnd, note: 'no record at or after the time: log end' };
        wanted = found;
        break;
      }
      case 'shift':
        if (current === null) return { topic, partition, current, target: null, note: 'nothing stored to shift' };
        wanted = current + target.by;
        break;
    }
    if (wanted < logStart) return { topic, partition, current, target: logStart, note: `${wanted} is before the log start: clamped` };
    if (wanted > logEnd) return { topic, partition, current, target: logEnd, note: `${wanted} is past the log end: clamped` };
    return { topic, partition, current, target: wanted };
  });
}
