/** Makes one batch durable: its offsets (and state) committed in the order its delivery semantics require, with retries. */
import { FencedBatchError, OffsetStoreError, StaleOffsetError } from '../errors';
import type { Clock } from '../util/Clock';
import type { Logger } from '../util/Logger';
import { retry } from '../util/retry';
import type { OffsetCommit, OffsetStore, StateWrite } from './OffsetStore';

/** When a batch's offsets are written relative to its outputs (see `DeliverySemantics`). */
export type CommitOrder = 'before-output' | 'after-output' | 'in-transaction';

/** Everything `commitBatch` needs to make one batch durable. */
export interface CommitBatchOptions<Tx> {
  readonly store: OffsetStore<Tx>;
  readonly group: string;
  readonly order: CommitOrder;
  /** The batch's commits: exactly the ranges whose records the outputs are handed. */
  readonly commits: readonly OffsetCommit[];
  /** Runs the batch's outputs, inside the store transaction for `in-transaction`. */
  readonly outputs: (transaction: Tx | undefined) => Promise<void>;
  /**
   * Checked right before the offsets are written: an error here (e.g. the partitions were given
   * up meanwhile) fails the batch without writing them, and under `in-transaction` aborts the
   * transaction with the outputs' writes.
   */
  readonly beforeCommit?: () => void;
  /**
   * The batch's state changes, read once its outputs ran: written in the same atomic step as the
   * offsets (in the transaction, or with the after-output commit). Under `before-output` the
   * offsets are already written when the outputs run, so the changes follow in a state-only write
   * (a crash in between loses them, as at-most-once loses the batch's records). Absent or empty:
   * no state to write.
   */
  readonly state?: () => StateWrite | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Longest the store may stay unreachable (retriable failures) before the batch fails. */
  readonly outageBudgetMs: number;
  /** Attempts beyond the first, at most (default: bounded by `outageBudgetMs` only). */
  readonly maxRetries?: number;
  /** Names the batch in log lines and errors. */
  readonly batchTimeMs: number;
  /** Names the stream in log lines. */
  readonly source: string;
}

/**
 * Makes one batch durable in the order its delivery semantics require: offsets, then outputs
 * (at-most-once); outputs, then offsets (at-least-once); or outputs inside the store transaction
 * that writes the offsets (exactly-once). Every write is compare-and-set against the commits'
 * expected offsets. A store that fails with a retriable error is retried with backoff, a line
 * logged per attempt, for up to `outageBudgetMs`; a transaction's retry runs the outputs again in
 * a new transaction. The offsets never advance unless the outputs succeeded (or, at-most-once,
 * before they run). A commit whose answer was lost may have landed: a retry that then finds the
 * store already at the batch's end counts as success. State changes (`state`) ride along in the
 * same write as the offsets.
 */
export async function commitBatch<Tx>(options: CommitBatchOptions<Tx>): Promise<void> {
  const { store, group, order, commits, outputs, beforeCommit, clock, logger, outageBudgetMs } = options;
  const stateOf = (): StateWrite | undefined => {
    const state = options.state?.();
    return state === undefined || state.length === 0 ? undefined : state;
  };
  let isAmbiguous = false;
  // Errors of the outputs themselves (user code) pass through as they are; only the store's are wrapped.
  const outputErrors = new WeakSet<object>();
  const runOutputs = async (tx: Tx | undefined): Promise<void> => {
    try {
      await outputs(tx);
    } catch (error) {
      if (typeof error === 'object' && error !== null) outputErrors.add(error);
      throw error;
    }
  };
  const write = async (work: (tx: Tx | undefined) => Promise<void>, withState: boolean): Promise<void> => {
    try {
      if (order === 'in-transaction') {
        await store.transaction!(
          group,
          commits,
          async (tx) => {
            await work(tx);
            beforeCommit?.();
          },
          withState && options.state !== undefined ? () => stateOf() ?? [] : undefined,
        );
      } else {
        await work(undefined);
        beforeCommit?.();
        const state = withState ? stateOf() : undefined;
        if (state === undefined) await store.commit(group, commits);
        else await store.commit(group, commits, state);
      }
    } catch (error) {
      if (isAmbiguous && error instanceof StaleOffsetError && landed(commits, error)) return;
      if ((error as { retriable?: unknown }).retriable === true) isAmbiguous = true;
      throw error;
    }
  };
  const retryOptions = {
    clock,
    maxAttempts: options.maxRetries === undefined ? Number.POSITIVE_INFINITY : options.maxRetries + 1,
    maxElapsedMs: outageBudgetMs,
    initialDelayMs: 100,
    maxDelayMs: 5000,
    onRetry: (error: unknown, attempt: number, delayMs: number) =>
      logger.warn(
        `${options.source}: offset store ${store.name} failed committing batch ${options.batchTimeMs} ` +
          `(attempt ${attempt}); retrying in ${delayMs} ms, for up to ${outageBudgetMs} ms in all`,
        { error },
      ),
  };
  const durably = (work: (tx: Tx | undefined) => Promise<void>, withState = true) => retry(() => write(work, withState), retryOptions);
  try {
    if (order === 'before-output') {
      await durably(async () => undefined, false);
      await runOutputs(undefined);
      const state = stateOf();
      if (state !== undefined) {
        await retry(() => store.commit(group, [], state), retryOptions);
      }
    } else if (order === 'after-output') {
      // Outputs run once; only the offset write is retried.
      await runOutputs(undefined);
      await durably(async () => undefined);
    } else {
      await durably(runOutputs);
    }
  } catch (error) {
    if (error instanceof FencedBatchError || (typeof error === 'object' && error !== null && outputErrors.has(error))) {
      throw error;
    }
    const ranges = commits.map((c) => String(c.range)).join(', ');
    throw new OffsetStoreError(
      store.name,
      `could not commit ${ranges || 'the batch'}: ${(error as Error)?.message ?? String(error)}. Offsets were not advanced` +
        ((error as { retriable?: unknown }).retriable === true
          ? ` (the store stayed unreachable past the outage budget of ${outageBudgetMs} ms; a restart resumes from it once it is back)`
          : ''),
      { batchTimeMs: options.batchTimeMs, cause: error, retriable: false },
    );
  }
}

/** A stale answer that shows this batch's own commit already landed (its answer was lost). */
function landed(commits: readonly OffsetCommit[], error: StaleOffsetError): boolean {
  const mine = commits.find((c) => c.range.topic === error.topic && c.range.partition === error.partition);
  return mine !== undefined && error.actualOffset === mine.range.untilOffset;
}
