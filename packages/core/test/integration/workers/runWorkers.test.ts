import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runWorkers, silentLogger, SignalSource, WorkerReport } from '@dstream/core';

/**
 * Real child processes running a job of the built `@dstream/core` (`npm test` builds it first):
 * the supervisor starts them, restarts the one that crashes, hears their batches over IPC, and
 * stops them all gracefully on SIGTERM.
 */
describe('runWorkers with real processes', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dstream-workers-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('restarts a crashed worker, collects the batches both report, and stops both gracefully on SIGTERM', async () => {
    const signals = new EventEmitter();
    const batchesByWorker = new Map<number, number>();
    const running = runWorkers({
      jobFile: path.join(__dirname, 'fixtures', 'countingJob.js'),
      workers: 2,
      env: { ...process.env, WORKERS_TEST_DIR: dir },
      restartDelayMs: 100,
      progressIntervalMs: 0,
      logger: silentLogger,
      signals: signals as unknown as SignalSource,
      onReport: (id: number, report: WorkerReport) => batchesByWorker.set(id, (batchesByWorker.get(id) ?? 0) + (report.failed ? 0 : 1)),
    });
    const files = () => fs.readdirSync(dir);
    try {
      const restartedAndRunning = () =>
        files().filter((name) => name.startsWith('started-1-')).length === 2 && (batchesByWorker.get(0) ?? 0) >= 3;
      const deadline = Date.now() + 30_000;
      while (!restartedAndRunning()) {
        if (Date.now() > deadline) throw new Error(`worker 1 was not restarted in time: ${files().join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Let the restarted worker complete batches of its own before stopping.
      const reportedBefore = batchesByWorker.get(1) ?? 0;
      while ((batchesByWorker.get(1) ?? 0) < reportedBefore + 3) {
        if (Date.now() > deadline) throw new Error('the restarted worker 1 reports no batches');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } catch (error) {
      // A failed wait must not leave the supervisor and its workers running past the test.
      signals.emit('SIGTERM', 'SIGTERM');
      await running.catch(() => undefined);
      throw error;
    }
    signals.emit('SIGTERM', 'SIGTERM');
    const result = await running;
    expect(result.exitCode).toBe(0);
    expect(result.restarts).toBe(1);
    expect(result.batches).toBe((batchesByWorker.get(0) ?? 0) + (batchesByWorker.get(1) ?? 0));
    // Each worker's last process stopped through the context's graceful path.
    expect(files().filter((name) => name.startsWith('stopped-')).map((name) => name.split('-')[1]).sort()).toEqual(['0', '1']);
  }, 60_000);
});
