import type { OffsetChange } from '../offsets/OffsetChange';
import { isWrite } from '../offsets/OffsetChange';
import { formatTable } from './formatTable';

const show = (offset: number | null) => (offset === null ? '-' : String(offset));

/** A plan as a table: each partition's stored offset, the new one, and a note. */
export function formatPlan(changes: readonly OffsetChange[]): string {
  const hasNotes = changes.some((change) => change.note !== undefined);
  const header = ['TOPIC', 'PARTITION', 'CURRENT', 'NEW', ...(hasNotes ? ['NOTE'] : [])];
  const rows = changes.map((change) => [
    change.topic,
    String(change.partition),
    show(change.current),
    change.target === null ? show(change.current) : show(change.target),
    ...(hasNotes ? [change.note ?? (isWrite(change) ? '' : 'unchanged')] : []),
  ]);
  return formatTable(header, rows);
}

/** The plan as JSON, one object per partition. */
export function planToJSON(changes: readonly OffsetChange[]) {
  return changes.map(({ topic, partition, current, target, note }) => ({
    topic,
    partition,
    current,
    target: target ?? current,
    changes: isWrite({ topic, partition, current, target }),
    ...(note === undefined ? {} : { note }),
  }));
}
