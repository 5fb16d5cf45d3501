/** What a write-planning command (reset, migrate, import) intends for one partition. */
export interface OffsetChange {
  readonly topic: string;
  readonly partition: number;
  /** The offset stored now (null: none). The write is compare-and-set against it. */
  readonly current: number | null;
  /** The offset to store (null: the partition is left as it is). */
  readonly target: number | null;
  /** Why the target differs from what was asked (clamped to the log, nothing to shift, …). */
  readonly note?: string;
}

/** True when the change writes something. */
export function isWrite(change: OffsetChange): boolean {
  return change.target !== null && change.target !== change.current;
}
