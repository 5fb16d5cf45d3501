import { ConfigError } from '../errors';
import { OffsetRange } from '../offsets/OffsetRange';
import { ManualClock } from '../testing/ManualClock';
import { queueStream } from '../testing/queueStream';
import { RecordingInput } from '../testing/RecordingInput';
import { waitForBatches } from '../testing/waitForBatches';
import type { TimelineSnapshot } from '../ui/BatchTimeline';
import { silentLogger } from '../util/Logger';
import { StreamingContext } from './StreamingContext';
import type { MetricsOptions, UiOptions } from './Monitoring';

const running: StreamingContext[] = [];
// A test that fails midway must not leave a server open.
afterEach(async () => {
  await Promise.all(running.splice(0).map((ssc) => ssc.stop({ graceful: false })));
});

function setup(options: { metrics?: MetricsOptions; ui?: UiOptions }) {
  const clock = new ManualClock(0);
  const ssc = new StreamingContext({ appName: 'monitored', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger, ...options });
  running.push(ssc);
  // One partition whose plan reads 10 offsets per batch out of a log that ends 25 past it.
  const input = new RecordingInput('kafka[t]', {
    offsetRanges: (time) => [OffsetRange.create('t', 0, (time / 1000 - 1) * 10, (time / 1000) * 10)],
    generate: async (time) =>
      ssc.postInputEvent({
        type: 'InputPlanned',
        input: 'kafka[t]',
        batchTimeMs: time,
        partitions: [{ topic: 't', partition: 0, fromOffset: (time / 1000 - 1) * 10, untilOffset: (time / 1000) * 10, logEndOffset: (time / 1000) * 10 + 25 }],
      }),
    commit: async (time) =>
      ssc.postInputEvent({
        type: 'OffsetCommitCompleted',
        input: 'kafka[t]',
        store: 'memory',
        group: 'g',
        timeMs: time,
        durationMs: 4,
        offsetRanges: [OffsetRange.create('t', 0, (time / 1000 - 1) * 10, (time / 1000) * 10)],
        outcome: 'committed',
        error: undefined,
      }),
  });
  ssc.registerInput(input);
  // The queue's record (one per batch) counts in numRecords, not in the partition's offsets.
  const stream = queueStream(ssc, [['a'], ['b']]);
  ssc.registerOutput({ name: 'out', stream, run: async () => undefined });
  return { clock, ssc };
}

async function runTwoBatches(clock: ManualClock, ssc: StreamingContext): Promise<void> {
  await ssc.start();
  const done = waitForBatches(ssc, 2);
  await clock.advance(1000);
  await clock.advance(1000);
  await done;
}

describe('StreamingContext monitoring', () => {
  it('fills metrics: { registry } without serving them', async () => {
    const { clock, ssc } = setup({ metrics: {} });
    await runTwoBatches(clock, ssc);
    const text = await ssc.metrics!.text();
    expect(text).toContain('dstream_batch_total_delay_seconds_count 2');
    expect(text).toContain('dstream_input_records_total{topic="t",partition="0"} 20');
    expect(text).toContain('dstream_consumer_lag_records{topic="t",partition="0"} 25');
    expect(text).toContain('dstream_offset_commit_seconds_count{store="memory"} 2');
    expect(ssc.metricsUrl).toBeUndefined();
    await ssc.stop();
  });

  it('serves /metrics on the port while running and closes it on stop', async () => {
    const { clock, ssc } = setup({ metrics: { port: 0, host: '127.0.0.1' } });
    await runTwoBatches(clock, ssc);
    const url = ssc.metricsUrl!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const response = await fetch(url);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('dstream_batch_processing_seconds_count 2');
    expect(text).toContain('process_resident_memory_bytes');
    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
    await ssc.stop();
    await expect(fetch(url)).rejects.toThrow();
  });

  it('serves the page, the timeline as JSON and as server-sent events', async () => {
    const { clock, ssc } = setup({ ui: { port: 0, host: '127.0.0.1' } });
    await runTwoBatches(clock, ssc);
    const base = ssc.uiUrl!;
    const page = await (await fetch(`${base}/`)).text();
    expect(page).toContain('<svg class="chart" data-testid="chart-total-delay"');
    expect(page).not.toMatch(/<(script|link)[^>]+(src|href)=/);
    const timeline = (await (await fetch(`${base}/api/timeline`)).json()) as TimelineSnapshot;
    expect(timeline).toMatchObject({ app: 'monitored', status: 'active', batchIntervalMs: 1000, completedBatches: 2, totalRecords: 22 });
    expect(timeline.completed.map((b) => [b.batchTimeMs, b.numRecords, b.offsetRanges])).toEqual([
      [1000, 11, [{ topic: 't', partition: 0, fromOffset: 0, untilOffset: 10 }]],
      [2000, 11, [{ topic: 't', partition: 0, fromOffset: 10, untilOffset: 20 }]],
    ]);
    expect(timeline.partitions).toEqual([{ input: 'kafka[t]', topic: 't', partition: 0, committedOffset: 20, logEndOffset: 45, lag: 25 }]);
    expect(timeline.commits).toEqual([expect.objectContaining({ store: 'memory', outcome: 'committed', durationMs: 4 })]);
    const events = await fetch(`${base}/api/events`);
    const reader = events.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^event: timeline\ndata: \{"app":"monitored"/);
    await ssc.stop();
    // The open event stream is ended by the stop.
    while (!(await reader.read()).done);
  });

  it('fails start() naming the option when the port is taken, before any input starts', async () => {
    const { clock, ssc } = setup({ ui: { port: 0, host: '127.0.0.1' } });
    await runTwoBatches(clock, ssc);
    const port = Number(new URL(ssc.uiUrl!).port);
    const second = new StreamingContext({ appName: 'second', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger, ui: { port, host: '127.0.0.1' } });
    const input = new RecordingInput('in');
    second.registerInput(input);
    second.registerOutput({ name: 'out', stream: queueStream(second, []), run: async () => undefined });
    await expect(second.start()).rejects.toThrow(new RegExp(`^ui.port must be free to listen on at 127.0.0.1 \\(EADDRINUSE\\); got ${port}`));
    expect(input.calls).toEqual([]);
    await ssc.stop();
  });

  it('rejects bad options with the option, the value and the fix', () => {
    const create = (options: object) => new StreamingContext({ appName: 'a', batchIntervalMs: 1000, stopOnSignals: false, logger: silentLogger, ...options });
    expect(() => create({ ui: { port: -1 } })).toThrow(new ConfigError('ui.port', -1, 'must be an integer port from 0 to 65535', 'Pass e.g. 9464, or 0 for any free port.'));
    expect(() => create({ metrics: { port: '9464' } })).toThrow(/^metrics.port must be an integer port/);
    expect(() => create({ metrics: 1 })).toThrow(/^metrics must be an object; got 1/);
    expect(() => create({ ui: { port: 0, retainedBatches: 0 } })).toThrow(/^ui.retainedBatches must be a positive integer/);
    expect(() => create({ logging: { level: 'debug' } })).toThrow(/^logging applies only to the default logger, and logger is set/);
  });
});
