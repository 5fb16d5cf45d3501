import { OffsetStoreError, StaleOffsetError } from '../errors';
import type { OffsetCommit, StoredOffsets } from './OffsetStore';
import { topicPartitionKey } from './OffsetRange';

/**
 * The compare step of every store's compare-and-set: rejects with `StaleOffsetError` at the first
 * commit whose partition does not hold its `expectedOffset` (null: nothing stored). `stored` is
 * what the store read, by `topic:partition` (absent: nothing stored), or a function giving the
 * stored offset of commit `i`.
 *
 * @example
 * checkExpectedOffsets('redis', 'wordcount', commits, await readStored(commits));
 */
export function checkExpectedOffsets(
  store: string,
  group: string,
  commits: readonly OffsetCommit[],
  stored: StoredOffsets | ((commit: OffsetCommit, index: number) => number | null),
): void {
  const stale = findStaleCommit(commits, stored);
  if (stale === undefined) return;
  const { commit, actual } = stale;
  throw new StaleOffsetError(store, group, commit.range.topic, commit.range.partition, commit.expectedOffset, actual);
}

/** The first commit whose partition does not hold its expected offset, with what it holds; undefined when none. */
export function findStaleCommit(
  commits: readonly OffsetCommit[],
  stored: StoredOffsets | ((commit: OffsetCommit, index: number) => number | null),
): { readonly commit: OffsetCommit; readonly actual: number | null } | undefined {
  const actualOf =
    typeof stored === 'function'
      ? stored
      : (commit: OffsetCommit) => stored.get(topicPartitionKey(commit.range.topic, commit.range.partition)) ?? null;
  for (let i = 0; i < commits.length; i += 1) {
    const actual = actualOf(commits[i], i);
    if (actual !== commits[i].expectedOffset) return { commit: commits[i], actual };
  }
  return undefined;
}

/** Decimal digits, no sign, no exponent: how every store writes an offset as text. */
const DECIMAL_OFFSET = /^[0-9]+$/;

/**
 * The offset a store holds as text (a hash field, a row, a znode, a cell), or a non-retriable
 * `OffsetStoreError` saying where it is, what it holds and `fix`: a stored value that is not a
 * non-negative decimal integer up to 2^53-1 is never guessed at.
 *
 * @example
 * parseStoredOffset('redis', '12', 'hash dstream:offsets:g:t field 0', 'fix or delete the field'); // 12
 */
export function parseStoredOffset(store: string, text: string, where: string, fix: string): number {
  const offset = DECIMAL_OFFSET.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(offset)) {
    throw new OffsetStoreError(
      store,
      `${where} holds ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}, not an offset ` +
        `(a non-negative decimal integer up to 2^53-1); ${fix}`,
      { retriable: false },
    );
  }
  return offset;
}
