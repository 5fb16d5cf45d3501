import { DStream } from '../dstream/DStream';
import { RecordProcessingError } from '../errors';
import { ManualClock } from '../testing/ManualClock';
import { queueStream } from '../testing/queueStream';
import { waitForBatches } from '../testing/waitForBatches';
import { silentLogger } from '../util/Logger';
import { StreamingContext } from './StreamingContext';

/**
 * Runs a graph over a chunked queue input (`chunkSize` 2) for as many batches as `batches` has,
 * collecting what `outputs` registers; returns whether the input streamed and how often its
 * batches were computed whole.
 */
async function run(
  batches: string[][],
  build: (lines: DStream<string>, collect: <T>(stream: DStream<T>) => T[][]) => void,
): Promise<{ isStreamed: boolean; wholeBatches: number; failure: Error | undefined }> {
  const clock = new ManualClock();
  const context = new StreamingContext({ appName: 'planStreaming', batchIntervalMs: 1000, clock, stopOnSignals: false, logger: silentLogger });
  const lines = queueStream(context, batches.map((batch) => [...batch]), { chunkSize: 2 });
  const compute = jest.spyOn(lines.node, 'compute');
  build(lines, (stream) => {
    const collected: unknown[][] = [];
    stream.foreachBatch((records) => void collected.push([...records]));
    return collected as never;
  });
  await context.start();
  let failure: Error | undefined;
  for (let batch = 0; batch < batches.length && failure === undefined; batch++) {
    const completed = waitForBatches(context, 1);
    await clock.advance(1000);
    failure = (await completed)[0].failure;
  }
  await context.stop();
  await context.awaitTermination().catch(() => undefined);
  return { isStreamed: lines.node.isStreamed === true, wholeBatches: compute.mock.calls.length, failure };
}

const BATCHES = [['a b', 'b c', 'c c', 'a'], [], ['d']];

describe('planStreaming', () => {
  it('streams an input whose one reader is a fused chain folded by an aggregation, never computing a batch whole', async () => {
    let counts: [string, number][][] = [];
    const result = await run(BATCHES, (lines, collect) => {
      counts = collect(
        lines
          .flatMap((line) => line.split(' '))
          .map((word) => [word, 1] as const)
          .reduceByKey((a, b) => a + b),
      );
    });
    expect(result).toEqual({ isStreamed: true, wholeBatches: 0, failure: undefined });
    expect(counts.map((batch) => new Map(batch))).toEqual([
      new Map([['a', 2], ['b', 2], ['c', 3]]),
      new Map(),
      new Map([['d', 1]]),
    ]);
  });

  it('streams into an aggregation reading the input itself', async () => {
    let counts: number[][] = [];
    const result = await run(BATCHES, (lines, collect) => {
      counts = collect(lines.count());
    });
    expect(result.isStreamed).toBe(true);
    expect(counts).toEqual([[4], [0], [1]]);
  });

  it('streams into the stateful operators, which read each batch once', async () => {
    let totals: [string, number][][] = [];
    const result = await run(BATCHES, (lines, collect) => {
      totals = collect(
        lines
          .flatMap((line) => line.split(' '))
          .map((word) => [word, 1] as const)
          .updateStateByKey<number>((values, state) => values.reduce((a, b) => a + b, state ?? 0)),
      );
    });
    expect(result.isStreamed).toBe(true);
    expect(new Map(totals[2])).toEqual(new Map([['a', 2], ['b', 2], ['c', 3], ['d', 1]]));
  });

  it.each([
    ['an output also reads the input', (lines: DStream<string>, collect: <T>(s: DStream<T>) => T[][]) => {
      collect(lines.count());
      collect(lines);
    }],
    ['two aggregations read one chain', (lines: DStream<string>, collect: <T>(s: DStream<T>) => T[][]) => {
      const words = lines.flatMap((line) => line.split(' '));
      collect(words.count());
      collect(words.countByValue());
    }],
    ['a window remembers the input', (lines: DStream<string>, collect: <T>(s: DStream<T>) => T[][]) => {
      collect(lines.window(2000).count());
    }],
    ['the chain holds a mapPartitions, which takes the batch whole', (lines: DStream<string>, collect: <T>(s: DStream<T>) => T[][]) => {
      collect(lines.mapPartitions((batch) => batch.map((line) => line.length)).count());
    }],
    ['a transform reads the batch whole', (lines: DStream<string>, collect: <T>(s: DStream<T>) => T[][]) => {
      collect(lines.transform((batch) => batch.slice(1)).count());
    }],
  ])('holds batches whole when %s, and computes each batch once', async (_case, build) => {
    const result = await run(BATCHES, build);
    expect(result).toEqual({ isStreamed: false, wholeBatches: BATCHES.length, failure: undefined });
  });

  it('charges a function failing on a streamed record to that record', async () => {
    const result = await run([['ok', 'ok', 'bad', 'ok']], (lines, collect) => {
      collect(
        lines
          .map((line) => {
            if (line === 'bad') throw new Error('cannot parse');
            return [line, 1] as const;
          })
          .reduceByKey((a, b) => a + b),
      );
    });
    expect(result.isStreamed).toBe(true);
    expect(result.failure).toBeInstanceOf(RecordProcessingError);
    expect(result.failure?.message).toMatch(/map/);
  });
});
