import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { ConfigError } from '../errors';
import { ManualClock } from '../testing/ManualClock';
import { silentLogger } from '../util/Logger';
import { runWorkers, RunWorkersOptions, SignalSource, WorkersResult } from './runWorkers';
import { WorkerReport } from './workerReport';

/** A child process stand-in: records the signals it is sent; the test decides when it exits. */
class FakeChild extends EventEmitter {
  readonly signals: string[] = [];
  /** What the supervisor sent it over IPC. */
  readonly sent: unknown[] = [];
  connected = true;
  constructor(
    readonly pid: number,
    readonly args: readonly string[],
    readonly options: SpawnOptions,
  ) {
    super();
  }
  kill(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    return true;
  }
  send(message: unknown, _handle: undefined, _options: undefined, callback: (error: Error | null) => void): boolean {
    this.sent.push(message);
    callback(null);
    return true;
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.connected = false;
    this.emit('exit', code, signal);
  }
  /** What a worker's direct stream sends before it joins its consumer group. */
  readyToJoin(): void {
    this.emit('message', { dstream: 1, type: 'ReadyToJoin' });
  }
  get joined(): boolean {
    return this.sent.some((message) => (message as { type?: string }).type === 'Join');
  }
  report(numRecords: number, failed = false): void {
    const report: WorkerReport = {
      type: 'BatchCompleted',
      dstream: 1,
      batchTimeMs: 0,
      numRecords,
      processingDelayMs: 1,
      schedulingDelayMs: 0,
      failed,
    };
    this.emit('message', report);
  }
}

/** Everything a test drives: the children started so far, the clock, the signals, the result. */
function supervise(options: Partial<RunWorkersOptions> = {}) {
  const children: FakeChild[] = [];
  const clock = new ManualClock(0);
  const signals = new EventEmitter();
  const lines: string[] = [];
  const logger = { ...silentLogger, info: (line: string) => void lines.push(line), warn: (line: string) => void lines.push(line) };
  let result: WorkersResult | undefined;
  const running = runWorkers({
    jobFile: '/jobs/wordCount.js',
    args: ['--topic', 'words'],
    workers: 2,
    env: { PATH: '/bin' },
    clock,
    logger,
    signals: signals as unknown as SignalSource,
    spawn: (_command, args, spawnOptions) => {
      const child = new FakeChild(1000 + children.length, args, spawnOptions);
      children.push(child);
      return child as unknown as ChildProcess;
    },
    ...options,
  }).then((value) => (result = value));
  return { children, clock, signals, lines, running, result: () => result };
}

/** Lets promise callbacks (restart timers, the result) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('runWorkers', () => {
  it('starts one process of the job per worker, each with the environment and its DSTREAM_WORKER_ID', async () => {
    const { children } = supervise({ workers: 3 });
    expect(children).toHaveLength(3);
    expect(children.map((child) => child.args)).toEqual(Array(3).fill(['/jobs/wordCount.js', '--topic', 'words']));
    expect(children.map((child) => child.options.env)).toEqual([0, 1, 2].map((id) => ({ PATH: '/bin', DSTREAM_WORKER_ID: String(id) })));
    expect(children[0].options.stdio).toContain('ipc');
    for (const child of children) child.exit(0);
  });

  it('runs argv as given, after the Node.js options, also as given', async () => {
    const { children } = supervise({ jobFile: undefined, args: undefined, argv: ['job.js', '-v'], execArgv: ['--max-old-space-size=256'], workers: 1 });
    expect(children[0].args).toEqual(['--max-old-space-size=256', 'job.js', '-v']);
    children[0].exit(0);
  });

  it('restarts a crashed worker after a backoff that doubles with each crash in a row, with the same worker id', async () => {
    const { children, clock, result } = supervise({ workers: 1, restartDelayMs: 1000, maxRestartDelayMs: 3000 });
    children[0].exit(1);
    await settle();
    expect(children).toHaveLength(1);
    await clock.advance(999);
    expect(children).toHaveLength(1);
    await clock.advance(1);
    expect(children).toHaveLength(2);
    expect(children[1].options.env).toMatchObject({ DSTREAM_WORKER_ID: '0' });
    children[1].exit(null, 'SIGSEGV');
    await settle();
    await clock.advance(1999);
    expect(children).toHaveLength(2);
    await clock.advance(1);
    expect(children).toHaveLength(3);
    // Capped at maxRestartDelayMs: 3000, not 4000.
    children[2].exit(1);
    await settle();
    await clock.advance(3000);
    expect(children).toHaveLength(4);
    expect(result()).toBeUndefined();
    children[3].exit(0);
  });

  it('waits restartDelayMs again for a worker that crashed after running stably', async () => {
    const { children, clock } = supervise({ workers: 1, restartDelayMs: 1000, stableAfterMs: 60_000 });
    children[0].exit(1);
    await settle();
    await clock.advance(1000);
    children[1].exit(1);
    await settle();
    await clock.advance(2000);
    expect(children).toHaveLength(3);
    await clock.advance(60_000);
    children[2].exit(1);
    await settle();
    await clock.advance(1000);
    expect(children).toHaveLength(4);
    children[3].exit(0);
  });

  it('forwards SIGTERM to every worker once and resolves with exit code 0 when all exited cleanly', async () => {
    const { children, signals, running, result } = supervise();
    signals.emit('SIGTERM', 'SIGTERM');
    expect(children.map((child) => child.signals)).toEqual([['SIGTERM'], ['SIGTERM']]);
    children[0].exit(0);
    await settle();
    expect(result()).toBeUndefined();
    children[1].exit(0);
    await running;
    expect(result()).toEqual({ exitCode: 0, restarts: 0, batches: 0, records: 0 });
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('forwards a second SIGINT, which tells the workers to exit at once', async () => {
    const { children, signals } = supervise({ workers: 1 });
    signals.emit('SIGINT', 'SIGINT');
    signals.emit('SIGINT', 'SIGINT');
    expect(children[0].signals).toEqual(['SIGINT', 'SIGINT']);
    children[0].exit(130);
  });

  it('does not restart a worker that crashes while stopping, and cancels pending restarts; the exit code is then 1', async () => {
    const { children, clock, signals, running, result } = supervise({ restartDelayMs: 5000 });
    children[0].exit(1);
    await settle();
    signals.emit('SIGTERM', 'SIGTERM');
    expect(children[1].signals).toEqual(['SIGTERM']);
    children[1].exit(0);
    await running;
    await clock.advance(10_000);
    expect(children).toHaveLength(2);
    expect(result()).toMatchObject({ exitCode: 1, restarts: 0 });
  });

  it('kills workers still running killAfterMs after the stop signal', async () => {
    const { children, clock, signals } = supervise({ workers: 1, killAfterMs: 30_000 });
    signals.emit('SIGTERM', 'SIGTERM');
    await clock.advance(29_999);
    expect(children[0].signals).toEqual(['SIGTERM']);
    await clock.advance(1);
    expect(children[0].signals).toEqual(['SIGTERM', 'SIGKILL']);
    children[0].exit(null, 'SIGKILL');
  });

  it('does not restart a worker that exited 0 on its own, and ends when every worker has', async () => {
    const { children, clock, running, result } = supervise();
    children[0].exit(0);
    await settle();
    await clock.advance(60_000);
    expect(children).toHaveLength(2);
    children[1].exit(0);
    await running;
    expect(result()).toMatchObject({ exitCode: 0 });
  });

  it('adds up the batches the workers report and logs combined progress every progressIntervalMs', async () => {
    const reports: Array<[number, number]> = [];
    const { children, clock, lines, signals, running, result } = supervise({
      progressIntervalMs: 10_000,
      onReport: (id, report) => reports.push([id, report.numRecords]),
    });
    children[0].report(100);
    children[1].report(300);
    children[1].report(50, true);
    children[1].emit('message', { some: 'message of the job itself' });
    await clock.advance(10_000);
    expect(lines).toContain('workers: 2 of 2 running; 2 batches, 400 records completed (40 records/s)');
    expect(reports).toEqual([
      [0, 100],
      [1, 300],
      [1, 50],
    ]);
    signals.emit('SIGTERM', 'SIGTERM');
    for (const child of children) child.exit(0);
    await running;
    expect(result()).toMatchObject({ batches: 2, records: 400 });
  });

  it('lets the workers join their group together once every running worker is ready, and a later one at once', async () => {
    const { children, clock, signals, running } = supervise({ workers: 3, restartDelayMs: 1000 });
    children[0].readyToJoin();
    children[2].readyToJoin();
    expect(children.map((child) => child.joined)).toEqual([false, false, false]);
    children[1].readyToJoin();
    expect(children.map((child) => child.joined)).toEqual([true, true, true]);
    // A restarted worker does not wait: the group already has its members.
    children[1].exit(1);
    await settle();
    await clock.advance(1000);
    children[3].readyToJoin();
    expect(children[3].joined).toBe(true);
    signals.emit('SIGTERM', 'SIGTERM');
    for (const child of [children[0], children[2], children[3]]) child.exit(0);
    await running;
  });

  it('does not wait at the barrier for a worker that crashed before it was ready, nor past joinBarrierMs', async () => {
    const crashed = supervise({ workers: 2, restartDelayMs: 1000 });
    crashed.children[0].readyToJoin();
    crashed.children[1].exit(1);
    expect(crashed.children[0].joined).toBe(true);
    crashed.signals.emit('SIGTERM', 'SIGTERM');
    crashed.children[0].exit(0);
    await crashed.running;

    const slow = supervise({ workers: 2, joinBarrierMs: 5000 });
    slow.children[1].readyToJoin();
    await slow.clock.advance(4999);
    expect(slow.children[1].joined).toBe(false);
    await slow.clock.advance(1);
    expect(slow.children[1].joined).toBe(true);
    expect(slow.lines).toContain('workers: not every worker was ready to join the group within 5000 ms; the ready ones join now');
    slow.children[0].readyToJoin();
    expect(slow.children[0].joined).toBe(true);
    slow.signals.emit('SIGTERM', 'SIGTERM');
    for (const child of slow.children) child.exit(0);
    await slow.running;

    const noBarrier = supervise({ workers: 2, joinBarrierMs: 0 });
    noBarrier.children[0].readyToJoin();
    expect(noBarrier.children[0].joined).toBe(true);
    for (const child of noBarrier.children) child.exit(0);
    await noBarrier.running;
  });

  it('counts a worker that could not be started as a crash and tries again', async () => {
    const { children, clock } = supervise({ workers: 1, restartDelayMs: 1000 });
    // What child_process does when the executable cannot be run: an 'error', no pid, no 'exit'.
    Object.defineProperty(children[0], 'pid', { value: undefined });
    children[0].emit('error', new Error('spawn ENOENT'));
    await settle();
    await clock.advance(1000);
    expect(children).toHaveLength(2);
    children[1].exit(0);
  });

  it('refuses a job without a script, both jobFile and argv, and a worker count below 1', async () => {
    await expect(runWorkers({})).rejects.toThrow(ConfigError);
    await expect(runWorkers({ jobFile: 'a.js', argv: ['b.js'] })).rejects.toThrow(/either \{ jobFile, args \} or \{ argv \}/);
    await expect(runWorkers({ jobFile: 'a.js', workers: 0 })).rejects.toThrow(/workers must be a positive integer; got 0/);
    await expect(runWorkers({ jobFile: 'a.js', joinBarrierMs: -1 })).rejects.toThrow(/joinBarrierMs must be a non-negative number of ms; got -1/);
  });
});
