/**
 * The start barrier of `runWorkers`: each worker asks its supervisor before it joins the consumer
 * group, and the supervisor lets them all join at once when every worker has asked. Joins that
 * arrive together land in the group's first generation, which splits the partitions between all
 * workers at once; a worker joining after another already took every partition costs a rebalance
 * (one to three heartbeat intervals, and the first member's read-ahead) before it reads anything.
 */
import type { Clock } from '../util/Clock';
import type { Logger } from '../util/Logger';
import { raceAbort } from '../util/raceAbort';
import { isDstreamMessage, isSupervisedWorker } from './workerReport';

/** A worker's request to join its group, and the supervisor's answer: IPC messages of dstream's. */
export interface WorkerJoinMessage {
  readonly dstream: 1;
  readonly type: 'ReadyToJoin' | 'Join';
}

/** Where a worker talks to its supervisor: `process` under `runWorkers`. */
export interface SupervisorChannel {
  send(message: WorkerJoinMessage, sendHandle: undefined, options: undefined, callback: (error: Error | null) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * Longest a worker waits for the supervisor's go before joining anyway: a bound for a supervisor
 * that does not answer (another tool's `fork`, an older dstream). `runWorkers` itself answers
 * within its `joinBarrierMs` (5 s by default).
 */
export const WORKER_JOIN_TIMEOUT_MS = 15_000;

/** The process's one barrier: several Subscribe streams of a job wait for the same go. */
let processJoin: Promise<void> | undefined;

/**
 * Resolves when this worker may join its consumer group: at once when the process is not a
 * worker of `runWorkers` (no IPC channel or no `DSTREAM_WORKER_ID`), else once the supervisor
 * answers `ReadyToJoin` with `Join`, or `timeoutMs` passed, or the IPC channel is gone. Later
 * calls in the same process resolve with the first. Aborting `signal` (a stop during start)
 * rejects with its reason.
 */
export function awaitWorkerJoin(clock: Clock, logger: Logger, signal?: AbortSignal): Promise<void> {
  if (!isSupervisedWorker()) return Promise.resolve();
  processJoin ??= joinWhenAllowed(process as unknown as SupervisorChannel, clock, logger, WORKER_JOIN_TIMEOUT_MS);
  return raceAbort(processJoin, signal);
}

/** Asks `channel` for the go and waits for it (or `timeoutMs`); never rejects. */
export async function joinWhenAllowed(channel: SupervisorChannel, clock: Clock, logger: Logger, timeoutMs: number): Promise<void> {
  const timeout = new AbortController();
  let onMessage!: (message: unknown) => void;
  const answered = new Promise<void>((resolve) => {
    onMessage = (message) => {
      if (isDstreamMessage(message, 'Join')) resolve();
    };
    // While this listener is on, the IPC channel keeps the process alive; it is taken off below.
    channel.on('message', onMessage);
    const request: WorkerJoinMessage = { dstream: 1, type: 'ReadyToJoin' };
    channel.send(request, undefined, undefined, (error) => {
      // No supervisor to answer: join now.
      if (error !== null) resolve();
    });
  });
  try {
    await Promise.race([
      answered,
      clock.waitUntil(clock.nowMs() + timeoutMs, timeout.signal).then(
        () => logger.warn(`no answer from the worker supervisor within ${timeoutMs} ms; joining the group without waiting for the other workers`),
        // Cancelled: the answer came first.
        () => undefined,
      ),
    ]);
  } finally {
    timeout.abort();
    channel.off('message', onMessage);
  }
}
