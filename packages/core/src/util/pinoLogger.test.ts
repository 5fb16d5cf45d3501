import { OffsetRange } from '../offsets/OffsetRange';
import { ManualClock } from '../testing/ManualClock';
import { queueStream } from '../testing/queueStream';
import { RecordingInput } from '../testing/RecordingInput';
import { waitForBatches } from '../testing/waitForBatches';
import { StreamingContext } from '../context/StreamingContext';
import { withFields } from './Logger';
import { pinoLogger } from './pinoLogger';

function capture() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

describe('pinoLogger', () => {
  it('writes one JSON object per line with app, level, time, message and the fields', () => {
    const { lines, destination } = capture();
    const logger = pinoLogger('word-count', { format: 'json', destination });
    logger.info('started', { batchIntervalMs: 1000, offsetRanges: [OffsetRange.create('t', 0, 5, 9)] });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0]!)).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      app: 'word-count',
      batchIntervalMs: 1000,
      offsetRanges: [{ topic: 't', partition: 0, fromOffset: 5, untilOffset: 9 }],
      msg: 'started',
    });
  });

  it('writes an error field with its type, message and stack', () => {
    const { lines, destination } = capture();
    pinoLogger('app', { format: 'json', destination }).error('batch failed', { error: new TypeError('boom') });
    const { error } = JSON.parse(lines[0]!);
    expect(error).toMatchObject({ type: 'TypeError', message: 'boom', stack: expect.stringContaining('TypeError: boom') });
  });

  it('drops messages below the level', () => {
    const { lines, destination } = capture();
    const logger = pinoLogger('app', { format: 'json', level: 'warn', destination });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(['w', 'e']);
  });

  it('writes readable lines in the pretty form, with an error\'s stack under its line', () => {
    const { lines, destination } = capture();
    const logger = pinoLogger('app', { format: 'pretty', level: 'debug', destination });
    logger.warn('offset reset', { stream: 'kafka[t]', partitions: ['t-0', 't-1'] });
    logger.error('failed', { error: new Error('sink down') });
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  app: offset reset stream=kafka\[t\] partitions=t-0,t-1\n$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR app: failed error="sink down"\nError: sink down\n {4}at /);
    logger.debug('kafka[t]: batch planned', { stream: 'kafka[t]', offsetRanges: [OffsetRange.create('t', 0, 5, 9)] });
    logger.info('app: started');
    expect(lines[2]).toMatch(/ DEBUG app: kafka\[t\]: batch planned offsetRanges="t-0 \[5, 9\)"\n$/);
    expect(lines[3]).toMatch(/ INFO  app: started\n$/);
  });

  it('reads format and level from DSTREAM_LOG_FORMAT and DSTREAM_LOG_LEVEL, and rejects other values', () => {
    const saved = { ...process.env };
    try {
      process.env.DSTREAM_LOG_FORMAT = 'json';
      process.env.DSTREAM_LOG_LEVEL = 'error';
      const { lines, destination } = capture();
      const logger = pinoLogger('app', { destination });
      logger.warn('w');
      logger.error('e');
      expect(lines.map((line) => JSON.parse(line).msg)).toEqual(['e']);
      process.env.DSTREAM_LOG_LEVEL = 'verbose';
      expect(() => pinoLogger('app', { destination })).toThrow(/^DSTREAM_LOG_LEVEL must be one of debug, info, warn, error, silent; got "verbose"/);
    } finally {
      process.env = saved;
    }
  });

  it('is the default of a StreamingContext: app on every line, batch time and offset ranges on each batch\'s line', async () => {
    const { lines, destination } = capture();
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ appName: 'logged', batchIntervalMs: 1000, clock, stopOnSignals: false, logging: { format: 'json', level: 'debug', destination } });
    ssc.registerInput(new RecordingInput('kafka[t]', { offsetRanges: () => [OffsetRange.create('t', 0, 0, 3)] }));
    ssc.registerOutput({ name: 'out', stream: queueStream(ssc, [[1]]), run: async () => undefined });
    await ssc.start();
    const done = waitForBatches(ssc, 1);
    await clock.advance(1000);
    await done;
    await ssc.stop();
    const records = lines.map((line) => JSON.parse(line));
    expect(records.every((record) => record.app === 'logged')).toBe(true);
    expect(records).toContainEqual(
      expect.objectContaining({
        level: 'debug',
        msg: 'batch 1000 completed',
        batchTimeMs: 1000,
        offsetRanges: [{ topic: 't', partition: 0, fromOffset: 0, untilOffset: 3 }],
        numRecords: 4,
      }),
    );
  });
});

describe('withFields', () => {
  it('adds the fields to every message; the message\'s own fields win', () => {
    const calls: unknown[] = [];
    const base = { debug: () => undefined, info: (m: string, f?: object) => void calls.push([m, f]), warn: () => undefined, error: () => undefined };
    let name = 'kafka[a]';
    const logger = withFields(base, () => ({ stream: name, level: 'x' }));
    logger.info('one', { level: 'own' });
    name = 'kafka[b]';
    logger.info('two');
    expect(calls).toEqual([
      ['one', { stream: 'kafka[a]', level: 'own' }],
      ['two', { stream: 'kafka[b]', level: 'x' }],
    ]);
  });
});
