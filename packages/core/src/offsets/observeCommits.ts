import { performance } from 'node:perf_hooks';
import { StaleOffsetError } from '../errors';
import type { OffsetCommitCompletedEvent } from '../scheduler/events';
import { toError } from '../util/toError';
import type { OffsetCommit, OffsetStore, StateWrite } from './OffsetStore';

/** What `observeCommits` reports per attempt; the caller adds the input's name. */
export type CommitReport = Omit<OffsetCommitCompletedEvent, 'type' | 'input'>;

/**
 * The same store, reporting every `commit` and `transaction` attempt: how long the offset write
 * took, which ranges it wrote and whether it landed, conflicted (StaleOffsetError) or failed.
 * Everything else passes through untouched, so a store's own extras and identity-free checks
 * (`supportsTransactions`, `transaction` present or not) behave as on the store itself.
 *
 * In a transaction the outputs run before the offsets are written; the duration reported starts
 * when they finish, so it measures the store's work and not the user's.
 */
export function observeCommits<Tx>(store: OffsetStore<Tx>, report: (commit: CommitReport) => void): OffsetStore<Tx> {
  const finish = (group: string, commits: readonly OffsetCommit[], startedMs: number, error: unknown): void => {
    const failure = error === undefined ? undefined : toError(error);
    const outcome = failure === undefined ? 'committed' : failure instanceof StaleOffsetError ? 'conflict' : 'failed';
    try {
      report({
        store: store.name,
        group,
        timeMs: Date.now(),
        durationMs: performance.now() - startedMs,
        offsetRanges: commits.map((c) => c.range),
        outcome,
        error: failure,
      });
    } catch {
      // Reporting is observability: it never changes what a commit does.
    }
  };
  const commit = async (group: string, commits: readonly OffsetCommit[], state?: StateWrite): Promise<void> => {
    const startedMs = performance.now();
    try {
      await store.commit(group, commits, state);
    } catch (error) {
      finish(group, commits, startedMs, error);
      throw error;
    }
    finish(group, commits, startedMs, undefined);
  };
  const transaction = async <T>(
    group: string,
    commits: readonly OffsetCommit[],
    work: (tx: Tx) => Promise<T>,
    state?: () => StateWrite,
  ): Promise<T> => {
    let startedMs = performance.now();
    let hasOutputFailed = false;
    try {
      const result = await store.transaction!(group, commits, async (tx) => {
        let value: T;
        try {
          value = await work(tx);
        } catch (error) {
          hasOutputFailed = true;
          throw error;
        }
        startedMs = performance.now();
        return value;
      }, state);
      finish(group, commits, startedMs, undefined);
      return result;
    } catch (error) {
      // Outputs that threw are the batch's failure, not the store's: no offset write was tried.
      if (!hasOutputFailed) finish(group, commits, startedMs, error);
      throw error;
    }
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'commit') return commit;
      if (property === 'transaction' && typeof target.transaction === 'function') return transaction;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
