import { StreamingContext } from '../context/StreamingContext';
import { DStream } from '../dstream/DStream';
import { ConfigError } from '../errors';
import { silentLogger } from '../util/Logger';
import { ManualClock } from './ManualClock';
import { queueStream } from './queueStream';
import { waitForBatches } from './waitForBatches';

/** Options of `runBatches` and `runBatches2`. */
export interface RunBatchesOptions {
  /** The batch interval of the context the operation runs in (default 1000). */
  readonly batchIntervalMs?: number;
  /** How many batches to run (default: as many as the longest input has). Extra batches are empty. */
  readonly numBatches?: number;
}

/**
 * Runs `operation` over `input`, one array per batch, and returns what the resulting stream
 * produced, one array per batch it produced (every batch, unless it slides slower than the
 * interval). Spark's testOperation: a StreamingContext on a ManualClock, a queueStream input,
 * the clock advanced one interval per batch. Rejects with the error that failed a batch.
 *
 * @example
 * const output = await runBatches([[1, 2], [3]], (numbers) => numbers.map((n) => n * 10));
 * // [[10, 20], [30]]
 */
export function runBatches<I, O>(
  input: readonly (readonly I[])[],
  operation: (stream: DStream<I>) => DStream<O>,
  options: RunBatchesOptions = {},
): Promise<O[][]> {
  return runOnQueues([input], (streams) => operation(streams[0] as DStream<I>), options);
}

/**
 * `runBatches` for operations of two streams (join, union, cogroup): batch k of each input
 * arrives at the same batch time.
 *
 * @example
 * const joined = await runBatches2([[['a', 1]]], [[['a', 'x']]], (left, right) => join(left, right));
 */
export function runBatches2<I1, I2, O>(
  input1: readonly (readonly I1[])[],
  input2: readonly (readonly I2[])[],
  operation: (stream1: DStream<I1>, stream2: DStream<I2>) => DStream<O>,
  options: RunBatchesOptions = {},
): Promise<O[][]> {
  return runOnQueues(
    [input1, input2],
    (streams) => operation(streams[0] as DStream<I1>, streams[1] as DStream<I2>),
    options,
  );
}

async function runOnQueues<O>(
  inputs: ReadonlyArray<readonly (readonly unknown[])[]>,
  build: (streams: DStream<unknown>[]) => DStream<O>,
  options: RunBatchesOptions,
): Promise<O[][]> {
  const { batchIntervalMs = 1000, numBatches = Math.max(...inputs.map((batches) => batches.length)) } = options;
  if (!Number.isSafeInteger(numBatches) || numBatches < 0) {
    throw new ConfigError('numBatches', numBatches, 'must be an integer >= 0', 'Pass how many batches to run.');
  }
  const clock = new ManualClock();
  const context = new StreamingContext({
    appName: 'runBatches',
    batchIntervalMs,
    clock,
    stopOnSignals: false,
    logger: silentLogger,
  });
  // Copies: the queue stream consumes its queue, and the caller's arrays stay as they were.
  const streams = inputs.map((batches) => queueStream<unknown>(context, batches.map((batch) => [...batch])));
  const result = build(streams);
  if (!(result instanceof DStream)) {
    throw new ConfigError('operation', result, 'must return a DStream', 'Return the stream the operators produced.');
  }
  const outputs: O[][] = [];
  context.registerOutput({
    name: 'runBatches',
    stream: result,
    async run(batch) {
      await result.prepare(batch.time);
      const records = result.getOrCompute(batch.time);
      if (records !== undefined) outputs.push([...(await records)]);
    },
  });
  await context.start();
  let interruption: unknown;
  try {
    for (let batch = 0; batch < numBatches; batch += 1) {
      const completed = waitForBatches(context, 1);
      await clock.advance(batchIntervalMs);
      const [info] = await completed;
      if (info?.failure !== undefined) break;
    }
  } catch (error) {
    interruption = error;
  }
  await context.stop();
  // The error that stopped the context (a failed batch) explains an interruption best.
  await context.awaitTermination();
  if (interruption !== undefined) throw interruption;
  return outputs;
}
