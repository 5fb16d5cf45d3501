import { StreamingContext } from '../context/StreamingContext';
import { DStream } from '../dstream/DStream';
import { ConfigError } from '../errors';
import type { BatchInfo } from '../scheduler/events';
import { silentLogger } from '../util/Logger';
import { ManualClock } from './ManualClock';
import { queueStream, type QueueStreamOptions } from './queueStream';

/** Runs a queueStream for `numBatches` and returns what each batch held. */
async function collect<T>(queue: T[][], options: QueueStreamOptions<T>, numBatches: number, onStarted?: () => void) {
  const clock = new ManualClock();
  const ssc = new StreamingContext({ appName: 'queue', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
  const stream = queueStream(ssc, queue, options);
  const batches: T[][] = [];
  const infos: BatchInfo[] = [];
  ssc.addStreamingListener({ onBatchCompleted: ({ info }) => void infos.push(info) });
  ssc.registerOutput({ name: 'collect', stream, run: async ({ time }) => void batches.push([...(await stream.getOrCompute(time)!)]) });
  await ssc.start();
  onStarted?.();
  await clock.advance(numBatches * 1000);
  await ssc.stop();
  return { batches, infos };
}

describe('queueStream', () => {
  it('takes one queued array per batch, then the default batch once the queue is empty', async () => {
    const { batches } = await collect([[1, 2], [3]], { defaultBatch: [0] }, 4);
    expect(batches).toEqual([[1, 2], [3], [0], [0]]);
  });

  it('gives empty batches once the queue is empty when no default batch is set', async () => {
    const { batches } = await collect([['a']], {}, 2);
    expect(batches).toEqual([['a'], []]);
  });

  it('with oneAtATime false, takes everything queued so far as one batch', async () => {
    const { batches } = await collect([[1], [2, 3]], { oneAtATime: false }, 2);
    expect(batches).toEqual([[1, 2, 3], []]);
  });

  it('reads arrays pushed onto the queue after start', async () => {
    const queue: string[][] = [];
    const { batches } = await collect(queue, {}, 1, () => queue.push(['late']));
    expect(batches).toEqual([['late']]);
  });

  it('reports each batch record count and no offset ranges', async () => {
    const { infos } = await collect([[1, 2, 3], []], {}, 2);
    expect(infos.map((info) => [info.numRecords, info.offsetRanges])).toEqual([
      [3, []],
      [0, []],
    ]);
  });

  it('keeps its batches as long as its stream remembers them, for windows that read them later', async () => {
    const clock = new ManualClock();
    const ssc = new StreamingContext({ appName: 'queue', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
    const numbers = queueStream(ssc, [[1], [2], [3], [4]]);
    // A two-batch window sliding every two batches: at 2000 it reads 1000 too, which no output read.
    const window = new DStream<number>(ssc, {
      name: 'window',
      slideDurationMs: 2000,
      dependencies: [numbers as DStream<unknown>],
      compute: async (time) => [...(await numbers.getOrCompute(time - 1000)!), ...(await numbers.getOrCompute(time)!)],
    });
    numbers.remember(2000);
    const windows: number[][] = [];
    ssc.registerOutput({
      name: 'collect',
      stream: window,
      async run({ time }) {
        const batch = window.getOrCompute(time);
        if (batch !== undefined) windows.push([...(await batch)]);
      },
    });
    await ssc.start();
    await clock.advance(4000);
    await ssc.stop();
    await ssc.awaitTermination();
    expect(windows).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('rejects a queue that is not an array of arrays', () => {
    const ssc = new StreamingContext({ appName: 'queue', batchIntervalMs: 1000, clock: new ManualClock(), stopOnSignals: false });
    expect(() => queueStream(ssc, [1, 2] as unknown as number[][])).toThrow(ConfigError);
    expect(() => queueStream(ssc, [[1]], { defaultBatch: 0 as unknown as number[] })).toThrow(/defaultBatch must be an array/);
  });
});
