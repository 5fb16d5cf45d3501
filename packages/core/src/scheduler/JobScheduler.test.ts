import { StreamingContext } from '../context/StreamingContext';
import { OffsetRange } from '../offsets/OffsetRange';
import { ManualClock } from '../testing/ManualClock';
import { queueStream } from '../testing/queueStream';
import { RecordingInput } from '../testing/RecordingInput';
import { waitForBatches } from '../testing/waitForBatches';
import type { Logger } from '../util/Logger';
import { silentLogger } from '../util/Logger';
import type { BatchCompletedEvent, StreamingEvent } from './events';

function setup(options: { startTimeMs?: number; logger?: Logger } = {}) {
  const clock = new ManualClock(options.startTimeMs ?? 0);
  const ssc = new StreamingContext({
    appName: 'scheduler-test',
    batchIntervalMs: 1000,
    clock,
    stopOnSignals: false,
    logger: options.logger ?? silentLogger,
  });
  const events: StreamingEvent[] = [];
  ssc.events$.subscribe((event) => events.push(event));
  const completed = () =>
    events.filter((event): event is BatchCompletedEvent => event.type === 'BatchCompleted').map((event) => event.info);
  return { clock, ssc, events, completed };
}

describe('JobGenerator', () => {
  it('ticks on interval boundaries, the first at the next multiple of the interval after start', async () => {
    const { clock, ssc, completed } = setup({ startTimeMs: 1234 });
    const stream = queueStream(ssc, []);
    const ran: Array<[number, number]> = [];
    ssc.registerOutput({ name: 'times', stream, run: async ({ time }) => void ran.push([time, clock.nowMs()]) });
    await ssc.start();
    expect(ssc.zeroTimeMs).toBe(1000);
    await clock.advance(765);
    expect(ran).toEqual([]);
    await clock.advance(1);
    await clock.advance(2000);
    expect(ran).toEqual([
      [2000, 2000],
      [3000, 3000],
      [4000, 4000],
    ]);
    expect(completed().map((info) => info.batchTimeMs)).toEqual([2000, 3000, 4000]);
    await ssc.stop();
  });

  it('asks every input to generate each tick in registration order before submitting the batch', async () => {
    const { clock, ssc, events } = setup();
    const first = new RecordingInput('first');
    const second = new RecordingInput('second');
    ssc.registerInput(first);
    const stream = queueStream(ssc, []);
    ssc.registerInput(second);
    const order: string[] = [];
    const record = (name: string, input: RecordingInput) => {
      const generate = input.generate.bind(input);
      input.generate = async (time) => {
        order.push(`${name} ${time}`);
        await generate(time);
      };
    };
    record('first', first);
    record('second', second);
    ssc.addStreamingListener({ onBatchSubmitted: ({ batchTimeMs }) => void order.push(`submitted ${batchTimeMs}`) });
    ssc.registerOutput({ name: 'discard', stream, run: async () => undefined });
    await ssc.start();
    await clock.advance(2000);
    expect(order).toEqual(['first 1000', 'second 1000', 'submitted 1000', 'first 2000', 'second 2000', 'submitted 2000']);
    expect(events.filter((event) => event.type === 'BatchSubmitted')).toHaveLength(2);
    await ssc.stop();
  });

  it('still generates the ticks missed while an input was slow, each at its own time', async () => {
    const { clock, ssc, completed } = setup();
    const slow = new RecordingInput('slow', {
      generate: async (time) => {
        if (time === 2000) await clock.waitUntil(4500);
      },
    });
    ssc.registerInput(slow);
    const stream = queueStream(ssc, []);
    ssc.registerOutput({ name: 'discard', stream, run: async () => undefined });
    await ssc.start();
    await clock.advance(5000);
    expect(completed().map((info) => [info.batchTimeMs, info.submissionTimeMs])).toEqual([
      [1000, 1000],
      [2000, 4500],
      [3000, 4500],
      [4000, 4500],
      [5000, 5000],
    ]);
    await ssc.stop();
  });
});

describe('JobScheduler', () => {
  it('runs an overrunning batch to its end before the next starts, which waits its turn', async () => {
    const { clock, ssc, completed } = setup();
    const stream = queueStream(ssc, [[1], [2], [3]]);
    const log: string[] = [];
    ssc.registerOutput({
      name: 'slow',
      stream,
      async run({ time }) {
        log.push(`start ${time} at ${clock.nowMs()}`);
        if (time === 1000) await clock.waitUntil(clock.nowMs() + 2500);
        log.push(`end ${time} at ${clock.nowMs()}`);
      },
    });
    await ssc.start();
    await clock.advance(3000);
    expect(log).toEqual(['start 1000 at 1000']);
    await clock.advance(500);
    expect(log).toEqual([
      'start 1000 at 1000',
      'end 1000 at 3500',
      'start 2000 at 3500',
      'end 2000 at 3500',
      'start 3000 at 3500',
      'end 3000 at 3500',
    ]);
    expect(
      completed().map((info) => [info.batchTimeMs, info.submissionTimeMs, info.schedulingDelayMs, info.processingDelayMs]),
    ).toEqual([
      [1000, 1000, 0, 2500],
      [2000, 2000, 1500, 0],
      [3000, 3000, 500, 0],
    ]);
    await ssc.stop();
  });

  it('computes scheduling, processing and total delays from the clock', async () => {
    const { clock, ssc, completed } = setup();
    const stream = queueStream(ssc, [[1], [2]]);
    ssc.registerOutput({
      name: 'takes1200ms',
      stream,
      async run({ time }) {
        if (time <= 2000) await clock.waitUntil(clock.nowMs() + 1200);
      },
    });
    await ssc.start();
    const done = waitForBatches(ssc, 2);
    await clock.advance(3400);
    await done;
    expect(completed().slice(0, 2)).toEqual([
      expect.objectContaining({
        batchTimeMs: 1000,
        submissionTimeMs: 1000,
        processingStartTimeMs: 1000,
        processingEndTimeMs: 2200,
        schedulingDelayMs: 0,
        processingDelayMs: 1200,
        totalDelayMs: 1200,
        numRecords: 1,
        failure: undefined,
      }),
      expect.objectContaining({
        batchTimeMs: 2000,
        submissionTimeMs: 2000,
        processingStartTimeMs: 2200,
        processingEndTimeMs: 3400,
        schedulingDelayMs: 200,
        processingDelayMs: 1200,
        totalDelayMs: 1400,
      }),
    ]);
    await ssc.stop();
  });

  it('reports Submitted, Started and Completed for each batch, in that order, between Started and Stopped of the context', async () => {
    const { clock, ssc, events } = setup();
    const stream = queueStream(ssc, [[1], [2]]);
    ssc.registerOutput({ name: 'discard', stream, run: async () => undefined });
    await ssc.start();
    await clock.advance(2000);
    await ssc.stop();
    expect(events.map((event) => ('batchTimeMs' in event ? `${event.type} ${event.batchTimeMs}` : event.type === 'BatchCompleted' ? `BatchCompleted ${event.info.batchTimeMs}` : event.type))).toEqual([
      'StreamingStarted',
      'BatchSubmitted 1000',
      'BatchStarted 1000',
      'BatchCompleted 1000',
      'BatchSubmitted 2000',
      'BatchStarted 2000',
      'BatchCompleted 2000',
      'StreamingStopped',
    ]);
  });

  it('runs the outputs in registration order inside every input runBatch, nested in registration order', async () => {
    const { clock, ssc } = setup();
    const log: string[] = [];
    const outer = new RecordingInput('outer', { transaction: 'outer-tx', commit: async () => void log.push('commit outer') });
    const inner = new RecordingInput('inner', { commit: async () => void log.push('commit inner') });
    ssc.registerInput(outer);
    const stream = queueStream(ssc, [[1]]);
    ssc.registerInput(inner);
    ssc.registerOutput({ name: 'first', stream, run: async (batch) => void log.push(`first sees ${String(batch.transaction)}`) });
    ssc.registerOutput({ name: 'second', stream, run: async (batch) => void log.push(`second sees ${String(batch.transaction)}`) });
    await ssc.start();
    await clock.advance(1000);
    // The inner input has no transaction of its own, so the outputs see the outer one's.
    expect(log).toEqual(['first sees outer-tx', 'second sees outer-tx', 'commit inner', 'commit outer']);
    expect(outer.calls).toEqual(['start', 'generate 1000', 'runBatch 1000', 'commit 1000', 'clear 1000', 'completed 1000']);
    await ssc.stop();
  });

  it('hands outputs the innermost transaction when several inputs provide one', async () => {
    const { clock, ssc } = setup();
    ssc.registerInput(new RecordingInput('outer', { transaction: 'outer-tx' }));
    ssc.registerInput(new RecordingInput('inner', { transaction: 'inner-tx' }));
    const stream = queueStream(ssc, [[1]]);
    const seen: unknown[] = [];
    ssc.registerOutput({ name: 'tx', stream, run: async (batch) => void seen.push(batch.transaction) });
    await ssc.start();
    await clock.advance(1000);
    expect(seen).toEqual(['inner-tx']);
    await ssc.stop();
  });

  it('gives outputs and BatchInfo every input offset ranges and counts records from recordCount, else from the ranges', async () => {
    const { clock, ssc, completed } = setup();
    const ranges = (time: number) => [OffsetRange.create('t', 0, time, time + 10), OffsetRange.create('t', 1, time, time + 5)];
    const kafka = new RecordingInput('kafka', { offsetRanges: ranges });
    const compacted = new RecordingInput('compacted', {
      offsetRanges: (time) => [OffsetRange.create('c', 0, time, time + 100)],
      recordCount: () => 7,
    });
    ssc.registerInput(kafka);
    ssc.registerInput(compacted);
    const stream = queueStream(ssc, [[1, 2, 3]]);
    const seen: string[][] = [];
    ssc.registerOutput({ name: 'ranges', stream, run: async (batch) => void seen.push(batch.offsetRanges.map(String)) });
    await ssc.start();
    await clock.advance(1000);
    const expected = ['t-0 [1000, 1010)', 't-1 [1000, 1005)', 'c-0 [1000, 1100)'];
    expect(seen).toEqual([expected]);
    expect(completed()[0]!.offsetRanges.map(String)).toEqual(expected);
    expect(completed()[0]!.numRecords).toBe(10 + 5 + 7 + 3);
    expect(kafka.completed.map((info) => info.numRecords)).toEqual([25]);
    await ssc.stop();
  });

  it('clears the output streams and the inputs once a batch has committed', async () => {
    const { clock, ssc } = setup();
    const input = new RecordingInput('input');
    ssc.registerInput(input);
    const stream = queueStream(ssc, [[1]]);
    const cleared: number[] = [];
    const clearMetadata = stream.clearMetadata.bind(stream);
    stream.clearMetadata = (time) => {
      cleared.push(time);
      clearMetadata(time);
    };
    ssc.registerOutput({ name: 'discard', stream, run: async () => undefined });
    await ssc.start();
    await clock.advance(2000);
    expect(cleared).toEqual([1000, 2000]);
    expect(input.calls.filter((call) => call.startsWith('clear'))).toEqual(['clear 1000', 'clear 2000']);
    await ssc.stop();
  });

  it('stops the context when an output fails: queued batches never run and awaitTermination rejects with the error', async () => {
    const { clock, ssc, events } = setup();
    const input = new RecordingInput('input');
    ssc.registerInput(input);
    const stream = queueStream(ssc, [[1], [2], [3], [4]]);
    const failure = new Error('sink down');
    const ran: number[] = [];
    ssc.registerOutput({
      name: 'failing',
      stream,
      async run({ time }) {
        ran.push(time);
        await clock.waitUntil(clock.nowMs() + 2500);
        throw failure;
      },
    });
    await ssc.start();
    const terminated = ssc.awaitTermination().catch((error: unknown) => error);
    await clock.advance(6000);
    expect(await terminated).toBe(failure);
    expect(ran).toEqual([1000]);
    expect(ssc.state).toBe('stopped');
    expect(input.calls).not.toContain('commit 1000');
    expect(input.calls).not.toContain('clear 1000');
    expect(input.calls.at(-1)).toBe('stop');
    const completedEvent = events.find((event): event is BatchCompletedEvent => event.type === 'BatchCompleted');
    expect(completedEvent?.info.failure).toBe(failure);
    expect(events.map((event) => event.type).slice(-3)).toEqual(['BatchCompleted', 'StreamingError', 'StreamingStopped']);
    expect(events.at(-1)).toMatchObject({ type: 'StreamingStopped', abandonedBatchTimesMs: [2000, 3000], error: failure });
  });

  it('stops the context when a commit fails, without clearing the batch', async () => {
    const { clock, ssc } = setup();
    const failure = new Error('commit refused');
    const input = new RecordingInput('input', {
      commit: async (time) => {
        if (time === 2000) throw failure;
      },
    });
    ssc.registerInput(input);
    const stream = queueStream(ssc, [[1], [2], [3]]);
    ssc.registerOutput({ name: 'discard', stream, run: async () => undefined });
    await ssc.start();
    await clock.advance(3000);
    await expect(ssc.awaitTermination()).rejects.toBe(failure);
    expect(input.calls).toEqual([
      'start',
      'generate 1000',
      'runBatch 1000',
      'commit 1000',
      'clear 1000',
      'completed 1000',
      'generate 2000',
      'runBatch 2000',
      'completed 2000',
      'stop',
    ]);
    expect(input.completed[1]!.failure).toBe(failure);
  });

  it('stops the context when an input fails to generate a batch', async () => {
    const { clock, ssc, events } = setup();
    const failure = new Error('metadata request timed out');
    ssc.registerInput(
      new RecordingInput('input', {
        generate: async (time) => {
          if (time === 2000) throw failure;
        },
      }),
    );
    const stream = queueStream(ssc, [[1], [2]]);
    const ran: number[] = [];
    ssc.registerOutput({ name: 'times', stream, run: async ({ time }) => void ran.push(time) });
    await ssc.start();
    await clock.advance(3000);
    await expect(ssc.awaitTermination()).rejects.toBe(failure);
    expect(ran).toEqual([1000]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'StreamingError', error: failure }));
  });

  it('logs a listener that throws or rejects and still completes every batch', async () => {
    const logged: string[] = [];
    const logger: Logger = { ...silentLogger, error: (message) => void logged.push(message) };
    const { clock, ssc, completed } = setup({ logger });
    const stream = queueStream(ssc, [[1], [2]]);
    ssc.registerOutput({ name: 'discard', stream, run: async () => undefined });
    ssc.addStreamingListener({
      onBatchStarted: () => {
        throw new Error('listener bug');
      },
      onBatchCompleted: async () => {
        throw new Error('async listener bug');
      },
    });
    await ssc.start();
    await clock.advance(2000);
    expect(completed().map((info) => [info.batchTimeMs, info.failure])).toEqual([
      [1000, undefined],
      [2000, undefined],
    ]);
    expect(logged).toEqual([
      'streaming listener onBatchStarted threw; the batch is not affected',
      'streaming listener onBatchCompleted threw; the batch is not affected',
      'streaming listener onBatchStarted threw; the batch is not affected',
      'streaming listener onBatchCompleted threw; the batch is not affected',
    ]);
    await ssc.stop();
    await expect(ssc.awaitTermination()).resolves.toBeUndefined();
  });
});
