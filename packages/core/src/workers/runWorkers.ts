import { ChildProcess, spawn as spawnChild, SpawnOptions } from 'node:child_process';
import * as os from 'node:os';
import { ConfigError } from '../errors';
import type { Clock } from '../util/Clock';
import { SystemClock } from '../util/Clock';
import type { Logger } from '../util/Logger';
import { consoleLogger } from '../util/Logger';
import type { WorkerJoinMessage } from './workerJoin';
import { isDstreamMessage, isWorkerReport, WORKER_ID_VARIABLE, WorkerReport } from './workerReport';

/** Starts one child process: `child_process.spawn`'s shape, replaced by a fake in unit tests. */
export type SpawnFunction = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** Where the supervisor hears stop signals: `process` by default. */
export interface SignalSource {
  on(signal: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
}

/** Options of `runWorkers`: `jobFile` or `argv` is required. */
export interface RunWorkersOptions {
  /** The job's script; each worker runs `node <jobFile> ...args`. */
  readonly jobFile?: string;
  /** Arguments after `jobFile`. */
  readonly args?: readonly string[];
  /** Instead of `jobFile`/`args`: the script and its arguments, as `process.argv.slice(1)` reads. */
  readonly argv?: readonly string[];
  /** How many worker processes. Default `os.availableParallelism()`, one per core. */
  readonly workers?: number;
  /**
   * Node.js options of the workers (e.g. `--max-old-space-size=256`), passed as given. No heap
   * option is added: V8's default young generation (16 MiB semi-spaces) read 10-25% faster than
   * 8 MiB ones with a lower peak RSS, since the stream makes no records ahead of its batches
   * (docs/benchmarks.md).
   */
  readonly execArgv?: readonly string[];
  /** The workers' environment, to which `DSTREAM_WORKER_ID` (0 … workers-1) is added. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** First wait before restarting a crashed worker; doubles with each crash in a row. Default 1000 ms. */
  readonly restartDelayMs?: number;
  /** Longest wait before a restart. Default 30000 ms. */
  readonly maxRestartDelayMs?: number;
  /** A worker that ran this long before crashing is restarted after `restartDelayMs` again. Default 60000 ms. */
  readonly stableAfterMs?: number;
  /** After a stop signal, workers still running this long later are killed (SIGKILL). Default 120000 ms. */
  readonly killAfterMs?: number;
  /**
   * Longest the workers' first join of their consumer group waits for the slowest worker to be
   * ready: workers that join together share the group's first generation instead of a first
   * worker taking every partition and giving half back a rebalance later. Default 5000 ms; 0
   * lets each worker join as soon as it is ready.
   */
  readonly joinBarrierMs?: number;
  /** How often combined progress is logged; 0: never. Default 10000 ms. */
  readonly progressIntervalMs?: number;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly spawn?: SpawnFunction;
  readonly signals?: SignalSource;
  /** Called with each batch a worker reports completed (e.g. for a metrics endpoint). */
  readonly onReport?: (workerId: number, report: WorkerReport) => void;
}

/** How a `runWorkers` run ended. */
export interface WorkersResult {
  /** 0 when every worker's last exit was a clean one (code 0), else 1: what the supervisor's process should exit with. */
  readonly exitCode: number;
  /** Restarts of crashed workers over the run. */
  readonly restarts: number;
  /** Batches and records the workers reported completed, all together. */
  readonly batches: number;
  readonly records: number;
}

/** One worker slot: its current process, or the wait before its restart. */
interface Slot {
  readonly id: number;
  child: ChildProcess | undefined;
  startedAtMs: number;
  crashesInARow: number;
  lastExitCode: number | null;
  restart: AbortController | undefined;
}

/**
 * Runs a job file in `workers` child processes and supervises them, as `dstream run --workers N`
 * does: each child gets the parent's environment plus `DSTREAM_WORKER_ID`, so the workers of one
 * job share its `group.id` and Kafka's consumer-group protocol splits the partitions between
 * them. A worker that crashes (non-zero exit, or killed) is restarted after a backoff (1 s,
 * doubling up to 30 s, back to 1 s once a worker ran a minute). SIGTERM and SIGINT are forwarded
 * to every worker, each of which finishes its batch, commits and exits; the promise resolves once
 * all have exited. A worker that exits 0 on its own has finished and is not restarted. Workers
 * whose `StreamingContext` runs under the supervisor report each completed batch over IPC, and
 * the supervisor logs the totals every `progressIntervalMs`.
 *
 * @example
 * const { exitCode } = await runWorkers({ jobFile: require.resolve('./wordCountJob'), workers: 4 });
 * process.exitCode = exitCode;
 */
export async function runWorkers(options: RunWorkersOptions): Promise<WorkersResult> {
  const {
    workers = os.availableParallelism(),
    execArgv = [],
    env = process.env,
    restartDelayMs = 1000,
    maxRestartDelayMs = 30_000,
    stableAfterMs = 60_000,
    killAfterMs = 120_000,
    progressIntervalMs = 10_000,
    joinBarrierMs = 5000,
    logger = consoleLogger,
    clock = new SystemClock(),
    spawn = spawnChild as SpawnFunction,
    signals = process,
    onReport: onWorkerReport,
  } = options;
  const command = commandOf(options);
  if (!Number.isSafeInteger(workers) || workers < 1) {
    throw new ConfigError('workers', workers, 'must be a positive integer', `Pass e.g. ${os.availableParallelism()} (one per core).`);
  }
  for (const [name, value] of Object.entries({ restartDelayMs, maxRestartDelayMs, stableAfterMs, killAfterMs, joinBarrierMs })) {
    if (!Number.isFinite(value) || value < 0) throw new ConfigError(name, value, 'must be a non-negative number of ms', 'Omit it for the default.');
  }
  if (!Number.isFinite(progressIntervalMs) || progressIntervalMs < 0) {
    throw new ConfigError('progressIntervalMs', progressIntervalMs, 'must be a non-negative number of ms', 'Pass 0 to log no progress.');
  }

  const slots: Slot[] = Array.from({ length: workers }, (_, id) => ({
    id,
    child: undefined,
    startedAtMs: 0,
    crashesInARow: 0,
    lastExitCode: null,
    restart: undefined,
  }));
  let restarts = 0;
  let batches = 0;
  let records = 0;
  let isStopping = false;
  /** Workers waiting at the start barrier; undefined once it opened (or with `joinBarrierMs` 0, never closed). */
  let waitingToJoin: Set<Slot> | undefined = joinBarrierMs === 0 ? undefined : new Set();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const checkDone = () => {
    if (slots.every((slot) => slot.child === undefined && slot.restart === undefined)) finish();
  };

  const onReport = (slot: Slot, report: WorkerReport) => {
    if (!report.failed) {
      batches += 1;
      records += report.numRecords;
    }
    onWorkerReport?.(slot.id, report);
  };

  /** Ends the barrier's wait for slow workers once it opened. */
  const barrierTimer = new AbortController();
  const sendJoin = (slot: Slot) => {
    const join: WorkerJoinMessage = { dstream: 1, type: 'Join' };
    // A worker that exited meanwhile cannot take it: its replacement asks again.
    if (slot.child?.connected !== false) slot.child?.send?.(join, undefined, undefined, () => undefined);
  };

  /** Opens the start barrier: every waiting worker joins now, and later ones at once. */
  const openBarrier = () => {
    if (waitingToJoin === undefined) return;
    const waiting = waitingToJoin;
    waitingToJoin = undefined;
    barrierTimer.abort();
    for (const slot of waiting) sendJoin(slot);
  };

  /** Opens the barrier once every running worker waits at it (a crashed one is not waited for). */
  const checkBarrier = () => {
    if (waitingToJoin !== undefined && slots.every((slot) => slot.child === undefined || waitingToJoin!.has(slot))) openBarrier();
  };

  const onReadyToJoin = (slot: Slot) => {
    if (waitingToJoin === undefined) {
      sendJoin(slot);
      return;
    }
    if (waitingToJoin.size === 0) {
      clock.waitUntil(clock.nowMs() + joinBarrierMs, barrierTimer.signal).then(
        () => {
          logger.warn(`workers: not every worker was ready to join the group within ${joinBarrierMs} ms; the ready ones join now`);
          openBarrier();
        },
        () => undefined,
      );
    }
    waitingToJoin.add(slot);
    checkBarrier();
  };

  const start = (slot: Slot) => {
    const child = spawn(process.execPath, [...execArgv, ...command], {
      env: { ...env, [WORKER_ID_VARIABLE]: String(slot.id) },
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      // A process group of its own: Ctrl-C in a terminal signals the foreground group, and a
      // worker that got SIGINT from the terminal and again from the supervisor would take the
      // second as "exit at once". The supervisor forwards each signal exactly once.
      detached: true,
    });
    slot.child = child;
    slot.startedAtMs = clock.nowMs();
    child.on('message', (message: unknown) => {
      if (isWorkerReport(message)) onReport(slot, message);
      else if (isDstreamMessage(message, 'ReadyToJoin') && slot.child === child) onReadyToJoin(slot);
    });
    child.once('error', (error) => {
      logger.error(`worker ${slot.id}: ${error.message}`, { error });
      // A process that never started emits no 'exit': count it as a crash, or the slot would hang.
      if (child.pid === undefined) onExit(slot, child, null, null);
    });
    child.once('exit', (code, signal) => onExit(slot, child, code, signal));
    logger.info(`worker ${slot.id} started`, { pid: child.pid });
  };

  const onExit = (slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null) => {
    if (slot.child !== child) return;
    slot.child = undefined;
    slot.lastExitCode = code;
    waitingToJoin?.delete(slot);
    checkBarrier();
    if (isStopping || code === 0) {
      logger.info(`worker ${slot.id} exited`, { code, signal });
      checkDone();
      return;
    }
    const ranMs = clock.nowMs() - slot.startedAtMs;
    slot.crashesInARow = ranMs >= stableAfterMs ? 1 : slot.crashesInARow + 1;
    const delayMs = Math.min(maxRestartDelayMs, restartDelayMs * 2 ** (slot.crashesInARow - 1));
    logger.warn(`worker ${slot.id} crashed; restarting in ${delayMs} ms`, { code, signal, ranMs });
    const restart = new AbortController();
    slot.restart = restart;
    clock.waitUntil(clock.nowMs() + delayMs, restart.signal).then(
      () => {
        slot.restart = undefined;
        restarts += 1;
        start(slot);
      },
      () => {
        // Cancelled by a stop signal: this slot stays down.
        slot.restart = undefined;
        checkDone();
      },
    );
  };

  /** Aborted once every worker has exited: ends the progress loop and the kill timer. */
  const finishedSignal = new AbortController();

  const onSignal = (signal: NodeJS.Signals) => {
    const live = slots.filter((slot) => slot.child !== undefined);
    logger.info(`${signal}: stopping ${live.length} worker(s) gracefully`);
    if (!isStopping) {
      isStopping = true;
      for (const slot of slots) slot.restart?.abort();
      clock.waitUntil(clock.nowMs() + killAfterMs, finishedSignal.signal).then(
        () => {
          for (const slot of slots) {
            if (slot.child === undefined) continue;
            logger.warn(`worker ${slot.id} still running ${killAfterMs} ms after ${signal}; killing it`);
            slot.child.kill('SIGKILL');
          }
        },
        () => undefined,
      );
    }
    // A second signal is forwarded too: a job may treat it as "stop now".
    for (const slot of live) slot.child!.kill(signal);
  };

  const logProgress = async () => {
    let lastRecords = 0;
    let lastMs = clock.nowMs();
    for (;;) {
      try {
        await clock.waitUntil(lastMs + progressIntervalMs, finishedSignal.signal);
      } catch {
        return;
      }
      const nowMs = clock.nowMs();
      const running = slots.filter((slot) => slot.child !== undefined).length;
      const rate = ((records - lastRecords) / Math.max(1, nowMs - lastMs)) * 1000;
      logger.info(`workers: ${running} of ${workers} running; ${batches} batches, ${records} records completed (${Math.round(rate)} records/s)`, {
        running,
        batches,
        records,
        restarts,
      });
      lastRecords = records;
      lastMs = nowMs;
    }
  };

  signals.on('SIGTERM', onSignal);
  signals.on('SIGINT', onSignal);
  try {
    for (const slot of slots) start(slot);
    if (progressIntervalMs > 0) void logProgress();
    await finished;
  } finally {
    finishedSignal.abort();
    barrierTimer.abort();
    signals.off('SIGTERM', onSignal);
    signals.off('SIGINT', onSignal);
  }
  const exitCode = slots.every((slot) => slot.lastExitCode === 0) ? 0 : 1;
  logger.info(`all ${workers} worker(s) stopped`, { exitCode, restarts, batches, records });
  return { exitCode, restarts, batches, records };
}

/** The script and arguments every worker runs. */
function commandOf(options: RunWorkersOptions): string[] {
  const { jobFile, args = [], argv } = options;
  if (jobFile !== undefined && argv !== undefined) {
    throw new ConfigError('argv', argv, 'cannot be given together with jobFile', 'Pass either { jobFile, args } or { argv }.');
  }
  if (argv !== undefined) {
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((arg) => typeof arg !== 'string')) {
      throw new ConfigError('argv', argv, 'must be a non-empty array of strings: the script, then its arguments', "Pass e.g. ['job.js', '--topic', 'orders'].");
    }
    return [...argv];
  }
  if (typeof jobFile !== 'string' || jobFile.length === 0) {
    throw new ConfigError('jobFile', jobFile, 'is required: the script each worker runs', "Pass e.g. require.resolve('./job'), or argv.");
  }
  if (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string')) {
    throw new ConfigError('args', args, 'must be an array of strings', "Pass e.g. ['--topic', 'orders'].");
  }
  return [jobFile, ...args];
}
