import type { StreamingListener } from '../scheduler/events';

/** The environment variable that tells a job it runs as worker N of `runWorkers` (0-based). */
export const WORKER_ID_VARIABLE = 'DSTREAM_WORKER_ID';

/** What a worker's `StreamingContext` tells its supervisor over IPC: one message per completed batch. */
export interface WorkerReport {
  readonly type: 'BatchCompleted';
  /** Marks the message as dstream's among whatever else a job sends its parent. */
  readonly dstream: 1;
  readonly batchTimeMs: number;
  readonly numRecords: number;
  readonly processingDelayMs: number;
  readonly schedulingDelayMs: number;
  readonly failed: boolean;
}

/** Whether an IPC message is one of dstream's (among whatever else a job and its parent send), of type `type`. */
export function isDstreamMessage(message: unknown, type: string): boolean {
  const candidate = message as { dstream?: unknown; type?: unknown } | null;
  return typeof candidate === 'object' && candidate !== null && candidate.dstream === 1 && candidate.type === type;
}

/** Whether an IPC message is a `WorkerReport`. */
export function isWorkerReport(message: unknown): message is WorkerReport {
  return isDstreamMessage(message, 'BatchCompleted');
}

/** Whether this process is a worker of `runWorkers`: an IPC channel to its parent and a `DSTREAM_WORKER_ID`. */
export function isSupervisedWorker(): boolean {
  return process.send !== undefined && process.env[WORKER_ID_VARIABLE] !== undefined;
}

/**
 * A listener that reports each completed batch to the supervising `runWorkers` over IPC, or
 * undefined when this process is not one of its workers (no IPC channel, or no worker id). A
 * report that cannot be sent (the supervisor is gone) is dropped: progress is best effort.
 */
export function supervisorReporter(): StreamingListener | undefined {
  if (!isSupervisedWorker()) return undefined;
  return {
    onBatchCompleted: ({ info }) => {
      if (!process.connected) return;
      const report: WorkerReport = {
        type: 'BatchCompleted',
        dstream: 1,
        batchTimeMs: info.batchTimeMs,
        numRecords: info.numRecords,
        processingDelayMs: info.processingDelayMs,
        schedulingDelayMs: info.schedulingDelayMs,
        failed: info.failure !== undefined,
      };
      // With a callback, a failed send is passed to it instead of emitted as an 'error' event.
      process.send?.(report, undefined, undefined, () => undefined);
    },
  };
}
