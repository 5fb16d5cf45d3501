import { DStream } from '../dstream/DStream';
import { ConfigError, IllegalStateError } from '../errors';
import type { StreamingEvent } from '../scheduler/events';
import { ManualClock } from '../testing/ManualClock';
import { queueStream } from '../testing/queueStream';
import { RecordingInput } from '../testing/RecordingInput';
import { silentLogger } from '../util/Logger';
import { StreamingContext, type StreamingContextOptions } from './StreamingContext';

function setup(options: Partial<StreamingContextOptions> = {}) {
  const clock = new ManualClock();
  const ssc = new StreamingContext({
    appName: 'context-test',
    batchIntervalMs: 1000,
    clock,
    stopOnSignals: false,
    logger: silentLogger,
    ...options,
  });
  const events: StreamingEvent[] = [];
  ssc.events$.subscribe((event) => events.push(event));
  return { clock, ssc, events };
}

/** A context whose batch 1000 runs until 3500, so that batches 2000 and 3000 queue behind it. */
async function withOverrunningBatch(options: Partial<StreamingContextOptions> = {}) {
  const setupResult = setup(options);
  const { clock, ssc } = setupResult;
  const input = new RecordingInput('input');
  ssc.registerInput(input);
  const stream = queueStream(ssc, [[1], [2], [3], [4]]);
  const ran: string[] = [];
  ssc.registerOutput({
    name: 'slow',
    stream,
    async run({ time }) {
      if (time === 1000) await clock.waitUntil(3500);
      ran.push(`${time} done at ${clock.nowMs()}`);
    },
  });
  await ssc.start();
  await clock.advance(3000);
  return { ...setupResult, input, ran };
}

function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return Promise.race([promise.then(() => true, () => true), new Promise((resolve) => setImmediate(() => resolve(marker)))]).then(
    (value) => value === true,
  );
}

describe('StreamingContext options', () => {
  it.each([0, -1000, 1.5, Number.NaN, '1000'])('rejects batchIntervalMs %p with a ConfigError naming the option', (value) => {
    const create = () => new StreamingContext({ appName: 'app', batchIntervalMs: value as number });
    expect(create).toThrow(ConfigError);
    expect(create).toThrow(/^batchIntervalMs must be a positive integer number of milliseconds; got .*batchIntervalMs: 1000/);
  });

  it('shows NaN and Infinity as themselves, not as null', () => {
    expect(() => new StreamingContext({ appName: 'app', batchIntervalMs: Number.NaN })).toThrow(/; got NaN\./);
    expect(() => new StreamingContext({ appName: 'app', batchIntervalMs: Number.POSITIVE_INFINITY })).toThrow(/; got Infinity\./);
  });

  it('rejects an empty appName', () => {
    expect(() => new StreamingContext({ appName: ' ', batchIntervalMs: 1000 })).toThrow(
      expect.objectContaining({ name: 'ConfigError', option: 'appName', value: ' ' }),
    );
  });

  it('rejects a negative stopTimeoutMs', () => {
    expect(() => new StreamingContext({ appName: 'app', batchIntervalMs: 1000, stopTimeoutMs: -1 })).toThrow(
      expect.objectContaining({ option: 'stopTimeoutMs' }),
    );
  });
});

describe('StreamingContext lifecycle', () => {
  it('moves from initialized to active to stopped', async () => {
    const { ssc } = setup();
    ssc.registerOutput({ name: 'discard', stream: queueStream(ssc, []), run: async () => undefined });
    expect(ssc.state).toBe('initialized');
    await ssc.start();
    expect(ssc.state).toBe('active');
    await ssc.stop();
    expect(ssc.state).toBe('stopped');
  });

  it('has no zero time before it starts', () => {
    const { ssc } = setup();
    expect(() => ssc.zeroTimeMs).toThrow(IllegalStateError);
  });

  it('refuses to start without an output operation', async () => {
    const { ssc } = setup();
    queueStream(ssc, [[1]]);
    await expect(ssc.start()).rejects.toThrow(new IllegalStateError(
      'no output operations registered, so nothing to execute. Add one (foreachBatch, print, saveAsTextFiles) before start()',
    ));
    expect(ssc.state).toBe('initialized');
  });

  it('refuses a stream that slides on a duration that is not a multiple of the batch interval', async () => {
    const { ssc } = setup();
    const numbers = queueStream(ssc, [[1]]);
    const odd = new DStream<number>(ssc, { name: 'oddWindow', slideDurationMs: 1500, dependencies: [numbers as DStream<unknown>], compute: () => [] });
    ssc.registerOutput({ name: 'discard', stream: odd, run: async () => undefined });
    await expect(ssc.start()).rejects.toThrow(expect.objectContaining({ name: 'ConfigError', option: 'oddWindow slideDurationMs', value: 1500 }));
  });

  it('refuses an output over a stream of another context', () => {
    const { ssc } = setup();
    const other = setup().ssc;
    expect(() => ssc.registerOutput({ name: 'foreign', stream: queueStream(other, []), run: async () => undefined })).toThrow(ConfigError);
  });

  it('refuses operators, inputs and outputs once started, naming the operation', async () => {
    const { ssc } = setup();
    const stream = queueStream(ssc, []);
    ssc.registerOutput({ name: 'discard', stream, run: async () => undefined });
    await ssc.start();
    expect(() => new DStream(ssc, { name: 'map', slideDurationMs: 1000, dependencies: [stream as DStream<unknown>], compute: () => [] })).toThrow(
      new IllegalStateError('cannot add map: the StreamingContext has started. Build the whole graph (inputs, operators, outputs) before start()'),
    );
    expect(() => queueStream(ssc, [])).toThrow(/cannot add queueStream: the StreamingContext has started/);
    expect(() => ssc.registerInput(new RecordingInput('late'))).toThrow(/cannot add input late/);
    expect(() => ssc.registerOutput({ name: 'late-output', stream, run: async () => undefined })).toThrow(/cannot add output late-output/);
    await ssc.stop();
    expect(() => queueStream(ssc, [])).toThrow(/cannot add queueStream: the StreamingContext has stopped/);
  });

  it('refuses to restart a stopped context', async () => {
    const { ssc } = setup();
    ssc.registerOutput({ name: 'discard', stream: queueStream(ssc, []), run: async () => undefined });
    await ssc.start();
    await ssc.stop();
    await expect(ssc.start()).rejects.toThrow(/has stopped and cannot be restarted; create a new one/);
  });

  it('returns the same promise from a second start() while active', async () => {
    const { ssc } = setup();
    const input = new RecordingInput('input');
    ssc.registerInput(input);
    ssc.registerOutput({ name: 'discard', stream: queueStream(ssc, []), run: async () => undefined });
    const first = ssc.start();
    expect(ssc.start()).toBe(first);
    await first;
    expect(input.calls).toEqual(['start']);
    await ssc.stop();
  });

  it('fixes the zero time one interval before the next multiple of the interval on the clock', async () => {
    const clock = new ManualClock(12_345);
    const ssc = new StreamingContext({ appName: 'zero', batchIntervalMs: 500, clock, stopOnSignals: false, logger: silentLogger });
    const events: StreamingEvent[] = [];
    ssc.events$.subscribe((event) => events.push(event));
    ssc.registerOutput({ name: 'discard', stream: queueStream(ssc, []), run: async () => undefined });
    await ssc.start();
    expect(ssc.zeroTimeMs).toBe(12_000);
    expect(events[0]).toEqual({ type: 'StreamingStarted', appName: 'zero', timeMs: 12_345, batchIntervalMs: 500, zeroTimeMs: 12_000 });
    await ssc.stop();
  });

  it('rejects start when an input fails to start, and stops the inputs already started', async () => {
    const { ssc, events } = setup();
    const failure = new Error('broker unreachable');
    const first = new RecordingInput('first');
    const failing = new RecordingInput('failing', { start: () => Promise.reject(failure) });
    const never = new RecordingInput('never');
    for (const input of [first, failing, never]) ssc.registerInput(input);
    ssc.registerOutput({ name: 'discard', stream: queueStream(ssc, []), run: async () => undefined });
    await expect(ssc.start()).rejects.toBe(failure);
    expect(first.calls).toEqual(['start', 'stop']);
    expect(failing.calls).toEqual(['start']);
    expect(never.calls).toEqual([]);
    expect(ssc.state).toBe('stopped');
    await expect(ssc.awaitTermination()).rejects.toBe(failure);
    expect(events.map((event) => event.type)).toEqual(['StreamingError', 'StreamingStopped']);
  });

  it('stops before start without starting any input', async () => {
    const { ssc, events } = setup();
    const input = new RecordingInput('input');
    ssc.registerInput(input);
    await ssc.stop();
    expect(ssc.state).toBe('stopped');
    expect(input.calls).toEqual([]);
    await expect(ssc.awaitTermination()).resolves.toBeUndefined();
    expect(events.map((event) => event.type)).toEqual(['StreamingStopped']);
  });

  it('returns the first promise from every later stop() call', async () => {
    const { clock, ssc } = await withOverrunningBatch();
    const first = ssc.stop();
    expect(ssc.stop({ graceful: false })).toBe(first);
    expect(ssc.stop()).toBe(first);
    await clock.advance(500);
    await first;
    expect(ssc.stop()).toBe(first);
  });

  it('completes events$ after StreamingStopped', async () => {
    const { ssc, events } = setup();
    let isComplete = false;
    ssc.events$.subscribe({ complete: () => (isComplete = true) });
    ssc.registerOutput({ name: 'discard', stream: queueStream(ssc, []), run: async () => undefined });
    await ssc.start();
    await ssc.stop();
    expect(events.at(-1)).toEqual({ type: 'StreamingStopped', timeMs: 0, graceful: true, abandonedBatchTimesMs: [], error: undefined });
    expect(isComplete).toBe(true);
  });
});

describe('StreamingContext.stop', () => {
  it('graceful: finishes the running batch and the queued ones, then stops the inputs', async () => {
    const { clock, ssc, input, ran, events } = await withOverrunningBatch();
    const stopped = ssc.stop();
    await clock.advance(100);
    expect(await isSettled(stopped)).toBe(false);
    expect(input.calls).not.toContain('stop');
    await clock.advance(400);
    await stopped;
    expect(ran).toEqual(['1000 done at 3500', '2000 done at 3500', '3000 done at 3500']);
    expect(input.calls.slice(-2)).toEqual(['completed 3000', 'stop']);
    expect(events.at(-1)).toMatchObject({ type: 'StreamingStopped', graceful: true, abandonedBatchTimesMs: [] });
  });

  it('graceful: abandons the queued batches uncommitted once timeoutMs has passed, after the running one', async () => {
    const { clock, ssc, input, ran, events } = await withOverrunningBatch();
    const stopped = ssc.stop({ timeoutMs: 200 });
    await clock.advance(500);
    await stopped;
    expect(ran).toEqual(['1000 done at 3500']);
    expect(input.calls.filter((call) => call.startsWith('commit'))).toEqual(['commit 1000']);
    expect(events.at(-1)).toMatchObject({ type: 'StreamingStopped', graceful: true, abandonedBatchTimesMs: [2000, 3000] });
  });

  it('not graceful: abandons queued batches and waits only for the running one', async () => {
    const { clock, ssc, input, ran, events } = await withOverrunningBatch();
    const stopped = ssc.stop({ graceful: false });
    expect(await isSettled(stopped)).toBe(false);
    await clock.advance(500);
    await stopped;
    expect(ran).toEqual(['1000 done at 3500']);
    expect(input.calls.slice(-3)).toEqual(['clear 1000', 'completed 1000', 'stop']);
    expect(events.at(-1)).toMatchObject({ type: 'StreamingStopped', graceful: false, abandonedBatchTimesMs: [2000, 3000] });
  });

  it('stops ticking at once: no batch is generated after stop()', async () => {
    const { clock, ssc, input } = await withOverrunningBatch();
    const stopped = ssc.stop();
    await clock.advance(5000);
    await stopped;
    expect(input.calls.filter((call) => call.startsWith('generate'))).toEqual(['generate 1000', 'generate 2000', 'generate 3000']);
  });

  it('refuses a negative timeoutMs before stopping anything', async () => {
    const { clock, ssc } = await withOverrunningBatch();
    await expect(ssc.stop({ timeoutMs: -5 })).rejects.toThrow(expect.objectContaining({ option: 'timeoutMs', value: -5 }));
    expect(ssc.state).toBe('active');
    const stopped = ssc.stop({ graceful: false });
    await clock.advance(500);
    await stopped;
  });
});

describe('StreamingContext.awaitTerminationOrTimeout', () => {
  it('returns false when the time passes on the clock and true once the context stops', async () => {
    const { clock, ssc } = setup();
    ssc.registerOutput({ name: 'discard', stream: queueStream(ssc, []), run: async () => undefined });
    await ssc.start();
    const timedOut = ssc.awaitTerminationOrTimeout(1500);
    await clock.advance(1499);
    expect(await isSettled(timedOut)).toBe(false);
    await clock.advance(1);
    expect(await timedOut).toBe(false);
    const stopped = ssc.awaitTerminationOrTimeout(60_000);
    await ssc.stop();
    expect(await stopped).toBe(true);
    expect(clock.waiterCount).toBe(0);
  });

  it('rejects with the error that stopped the context', async () => {
    const { clock, ssc } = setup();
    const failure = new Error('sink down');
    ssc.registerOutput({ name: 'failing', stream: queueStream(ssc, [[1]]), run: () => Promise.reject(failure) });
    await ssc.start();
    const waited = ssc.awaitTerminationOrTimeout(10_000).catch((error: unknown) => error);
    await clock.advance(1000);
    expect(await waited).toBe(failure);
  });
});

describe('StreamingContext signals', () => {
  let exit: jest.SpyInstance;
  let savedExitCode: typeof process.exitCode;
  const handlerCounts = () => [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
  let countsBefore: number[];

  beforeEach(() => {
    exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    savedExitCode = process.exitCode;
    countsBefore = handlerCounts();
  });

  afterEach(() => {
    exit.mockRestore();
    process.exitCode = savedExitCode;
    expect(handlerCounts()).toEqual(countsBefore);
  });

  it('stops gracefully on SIGTERM, finishing the running batch, then exits 0 and removes its handlers', async () => {
    const { clock, ssc, ran, input } = await withOverrunningBatch({ stopOnSignals: true });
    expect(handlerCounts()).toEqual([countsBefore[0]! + 1, countsBefore[1]! + 1]);
    process.emit('SIGTERM', 'SIGTERM');
    expect(ssc.state).toBe('active');
    await clock.advance(500);
    await ssc.awaitTermination();
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual(['1000 done at 3500', '2000 done at 3500', '3000 done at 3500']);
    expect(input.calls.at(-1)).toBe('stop');
    expect(exit).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(0);
    expect(process.exitCode).toBe(0);
    expect(handlerCounts()).toEqual(countsBefore);
  });

  it('exits at once with 128 + the signal number on a second signal during the stop', async () => {
    const { clock, ssc } = await withOverrunningBatch({ stopOnSignals: true });
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(exit).toHaveBeenCalledWith(130);
    // Here the process would be gone; let the stop finish so that the handlers are removed.
    await clock.advance(500);
    await ssc.awaitTermination();
  });

  it('stops on SIGTERM while an input is still starting: the start is aborted, start() resolves, the process exits 0', async () => {
    const { ssc } = setup({ stopOnSignals: true });
    let abortedWith: unknown;
    // An input waiting for its first partition assignment, as a group member does.
    const input = new RecordingInput('joining', {
      start: (signal) =>
        new Promise<void>((_, reject) =>
          signal!.addEventListener('abort', () => {
            abortedWith = signal!.reason;
            reject(signal!.reason);
          }),
        ),
    });
    ssc.registerInput(input);
    const stream = queueStream(ssc, [[1]]);
    const delivered: unknown[] = [];
    ssc.registerOutput({ name: 'out', stream, run: async () => void delivered.push('batch') });
    const started = ssc.start();
    await new Promise((resolve) => setImmediate(resolve));
    process.emit('SIGTERM', 'SIGTERM');
    await expect(started).resolves.toBeUndefined();
    await ssc.awaitTermination();
    await new Promise((resolve) => setImmediate(resolve));
    expect(abortedWith).toBeInstanceOf(IllegalStateError);
    expect(ssc.state).toBe('stopped');
    expect(delivered).toEqual([]);
    expect(exit).toHaveBeenCalledWith(0);
  });

  it('stops on SIGTERM before start(); a later start() resolves without starting anything', async () => {
    const { ssc } = setup({ stopOnSignals: true });
    const input = new RecordingInput('input');
    ssc.registerInput(input);
    ssc.registerOutput({ name: 'out', stream: queueStream(ssc, [[1]]), run: async () => undefined });
    process.emit('SIGTERM', 'SIGTERM');
    await ssc.awaitTermination();
    await new Promise((resolve) => setImmediate(resolve));
    expect(exit).toHaveBeenCalledWith(0);
    await expect(ssc.start()).resolves.toBeUndefined();
    expect(input.calls).toEqual([]);
    expect(ssc.state).toBe('stopped');
  });

  it('installs no handler with stopOnSignals: false', async () => {
    const { clock, ssc } = await withOverrunningBatch({ stopOnSignals: false });
    expect(handlerCounts()).toEqual(countsBefore);
    const stopped = ssc.stop({ graceful: false });
    await clock.advance(500);
    await stopped;
  });
});
