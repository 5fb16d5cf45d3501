import { StreamingContext } from '../context/StreamingContext';
import { ConfigError, IllegalStateError } from '../errors';
import { ManualClock } from '../testing/ManualClock';
import { queueStream } from '../testing/queueStream';
import { runBatches } from '../testing/runBatches';
import { waitForBatches } from '../testing/waitForBatches';
import { silentLogger } from '../util/Logger';
import { DStream } from './DStream';

function newContext(clock = new ManualClock()): StreamingContext {
  return new StreamingContext({ appName: 'test', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
}

type Pairs = DStream<readonly [string, number]>;

describe('DStream operators', () => {
  const stream = queueStream<readonly [string, number]>(newContext(), []);

  it.each<[string, (fn: never) => unknown]>([
    ['map', (fn) => stream.map(fn)],
    ['filter', (fn) => stream.filter(fn)],
    ['flatMap', (fn) => stream.flatMap(fn)],
    ['mapPartitions', (fn) => stream.mapPartitions(fn)],
    ['mapValues', (fn) => (stream as Pairs).mapValues(fn)],
    ['flatMapValues', (fn) => (stream as Pairs).flatMapValues(fn)],
    ['transform', (fn) => stream.transform(fn)],
    ['reduce', (fn) => stream.reduce(fn)],
    ['reduceByKey', (fn) => (stream as Pairs).reduceByKey(fn)],
    ['foreachBatch', (fn) => stream.foreachBatch(fn)],
  ])('%s rejects a non-function, naming the argument, the value and the fix', (operator, call) => {
    const error = captureError(() => call(42 as never));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option: `${operator}(fn)`, value: 42 });
    expect((error as Error).message).toMatch(new RegExp(`^${operator}\\(fn\\) must be a function; got 42\\. Pass `));
  });

  it('rejects a print count that is not a non-negative integer, and a sink without write', () => {
    expect(() => stream.print(-1)).toThrow('print(count) must be a non-negative integer; got -1. Pass how many');
    expect(() => stream.print(1.5)).toThrow(ConfigError);
    expect(() => stream.print(3, {} as never)).toThrow('print(out) must have a write(text) method; got {}.');
  });

  it('rejects an empty saveAsTextFiles prefix and a suffix that is not a string', () => {
    expect(() => stream.saveAsTextFiles('')).toThrow('saveAsTextFiles(prefix) must be a non-empty string; got "".');
    expect(() => stream.saveAsTextFiles('out', 7 as never)).toThrow('saveAsTextFiles(suffix) must be a string or undefined; got 7.');
  });

  it('rejects union without streams, with a non-stream, with another slide or another context', () => {
    const context = newContext();
    const source = queueStream<number>(context, []);
    const slower = new DStream<number>(context, {
      name: 'windowed',
      slideDurationMs: 2000,
      dependencies: [source],
      compute: () => [],
    });
    expect(() => source.union()).toThrow('union(...others) needs at least one stream');
    expect(() => source.union('nope' as never)).toThrow('union(other) must be a DStream; got "nope".');
    expect(() => source.union(source, slower)).toThrow(
      'union(other #2) must have the same slide duration as the stream it is combined with (1000 ms); got 2000.',
    );
    expect(() => source.union(queueStream<number>(newContext(), []))).toThrow(
      'union(other) must belong to the same StreamingContext as the stream it is combined with',
    );
  });

  it('rejects joining streams of different slides', () => {
    const context = newContext();
    const source = queueStream<readonly [string, number]>(context, []);
    const slower = new DStream<readonly [string, number]>(context, {
      name: 'windowed',
      slideDurationMs: 3000,
      dependencies: [source],
      compute: () => [],
    });
    for (const call of [
      () => source.join(slower),
      () => source.leftOuterJoin(slower),
      () => source.rightOuterJoin(slower),
      () => source.fullOuterJoin(slower),
      () => source.cogroup(slower),
    ]) {
      expect(call).toThrow(ConfigError);
    }
    expect(() => source.cogroup(slower)).toThrow('cogroup(other) must have the same slide duration');
  });

  it('refuses operators and outputs once the context has started', async () => {
    const context = newContext();
    const source = queueStream<number>(context, [[1]]);
    source.foreachBatch(() => undefined);
    await context.start();
    try {
      expect(() => source.map((n) => n)).toThrow(IllegalStateError);
      expect(() => source.count()).toThrow('cannot add count');
      expect(() => source.print()).toThrow('cannot add print');
    } finally {
      await context.stop();
    }
  });

  it('computes a stream once per batch however many outputs read it', async () => {
    const clock = new ManualClock();
    const context = newContext(clock);
    let computeCount = 0;
    const source = queueStream<number>(context, [[1, 2], [3]]);
    const counted = source.map((n) => {
      computeCount += 1;
      return n;
    });
    const printed: string[] = [];
    const collected: number[][] = [];
    counted.print(10, { write: (text) => printed.push(text) });
    counted.foreachBatch((records) => void collected.push([...records]));
    await context.start();
    const done = waitForBatches(context, 2);
    await clock.advance(2000);
    await done;
    await context.stop();
    expect(collected).toEqual([[1, 2], [3]]);
    expect(printed).toHaveLength(2);
    expect(computeCount).toBe(3);
  });

  it('prepares every node once per batch time, dependencies first, before outputs read the graph', async () => {
    const context = newContext();
    const log: string[] = [];
    const node = (name: string, dependencies: DStream<unknown>[]): DStream<number> =>
      new DStream<number>(context, {
        name,
        slideDurationMs: 1000,
        dependencies,
        compute: () => [],
        prepare: async (time) => void log.push(`${name}@${time}`),
      });
    const source = node('source', []);
    const left = node('left', [source]);
    const right = node('right', [source]);
    const joined = node('joined', [left, right]);
    await Promise.all([joined.prepare(1000), joined.prepare(1000), left.prepare(1000)]);
    await joined.prepare(2000);
    expect(log).toEqual(['source@1000', 'left@1000', 'right@1000', 'joined@1000', 'source@2000', 'left@2000', 'right@2000', 'joined@2000']);
  });

  it('propagates remember through parentRememberMs, keeping only the longest need', () => {
    const context = newContext();
    const source = queueStream<number>(context, []);
    const windowed = new DStream<number>(context, {
      name: 'windowed',
      slideDurationMs: 2000,
      dependencies: [source],
      compute: () => [],
      parentRememberMs: (rememberMs) => rememberMs + 5000,
    });
    windowed.remember(3000);
    expect([windowed.rememberDurationMs, source.rememberDurationMs]).toEqual([3000, 8000]);
    windowed.remember(1000);
    expect([windowed.rememberDurationMs, source.rememberDurationMs]).toEqual([3000, 8000]);
  });

  it('runs a Spark word count end to end', async () => {
    const output = await runBatches([['to be or', 'not to be'], ['be']], (lines) =>
      lines
        .flatMap((line) => line.split(' '))
        .map((word) => [word, 1] as const)
        .reduceByKey((a, b) => a + b),
    );
    expect(output).toEqual([
      [
        ['to', 2],
        ['be', 2],
        ['or', 1],
        ['not', 1],
      ],
      [['be', 1]],
    ]);
  });
});

function captureError(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}
