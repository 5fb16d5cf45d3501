import type { OffsetRange, OffsetStore, StreamingContext, TopicPartition } from '@dstream/core';

/** How often the store is read while the job runs. */
const POLL_INTERVAL_MS = 200;

/**
 * The records committed so far for `partitions` of a topic that started empty: the sum of the
 * offsets stored for them (each is the next offset to read, so it counts the records before it).
 *
 * @example
 * await committedRecords(store, 'wordcount', [{ topic: 'sentences', partition: 0 }]); // e.g. 1200
 */
export async function committedRecords(store: OffsetStore, group: string, partitions: readonly TopicPartition[]): Promise<number> {
  const stored = await store.load(group, partitions);
  let total = 0;
  for (const offset of stored.values()) total += offset;
  return total;
}

/**
 * Starts `ssc`, reads `store` until the offsets committed for `group` cover at least `records`
 * records of `partitions`, then stops the context gracefully (its in-flight batch finishes and
 * commits) and resolves with the records committed by then. `store` is the caller's own
 * connected instance, not the one the job's stream owns. Rejects with the context's error if it
 * fails first.
 *
 * @example
 * const committed = await runUntilCommitted(wordCountJob(settings), store, group, partitions, 1000);
 */
export async function runUntilCommitted(
  ssc: StreamingContext,
  store: OffsetStore,
  group: string,
  partitions: readonly TopicPartition[],
  records: number,
): Promise<number> {
  let hasTerminated = false;
  const termination = ssc.awaitTermination().then(() => {
    hasTerminated = true;
  });
  // Observed below; this only keeps a failed start from also reporting an unhandled rejection.
  termination.catch(() => undefined);
  await ssc.start();
  while ((await committedRecords(store, group, partitions)) < records) {
    await Promise.race([termination, new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))]);
    if (hasTerminated) throw new Error(`the job stopped before committing ${records} records of group ${group}`);
  }
  await ssc.stop({ graceful: true });
  await termination;
  return committedRecords(store, group, partitions);
}

/**
 * Watches `ssc` for its first completed batch and returns a function that gives that batch's
 * offset ranges (undefined until it completed): after a restart, where the job resumed.
 *
 * @example
 * const resumedAt = firstBatchRanges(ssc);
 * await runUntilCommitted(ssc, store, group, partitions, records);
 * resumedAt()?.map((range) => range.fromOffset);
 */
export function firstBatchRanges(ssc: StreamingContext): () => readonly OffsetRange[] | undefined {
  let ranges: readonly OffsetRange[] | undefined;
  ssc.addStreamingListener({
    onBatchCompleted: ({ info }) => {
      ranges ??= info.offsetRanges;
    },
  });
  return () => ranges;
}
