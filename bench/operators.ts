/**
 * Narrow-operator throughput: a fused DStream chain map → filter → flatMap → map over 2 M small
 * records in memory, against a hand-written loop calling the same functions (the baseline),
 * chained Array methods, a per-record RxJS pipeline and the same RxJS operators applied to the
 * batch through `DStream.pipe`, all measured in the same run.
 *
 * Build core and this package (`npx tsc -b packages/core bench`), then
 * `node --expose-gc bench/dist/operators.js` (without --expose-gc runs are not preceded by a GC).
 * `RECORDS` and `RUNS` in the environment override the defaults.
 */
import { DStream, type StreamingContextLike } from '@dstream/core';
import { from, map as rxMap, filter as rxFilter, mergeMap, lastValueFrom, toArray } from 'rxjs';

interface Event {
  readonly id: number;
  readonly value: number;
}

const RECORD_COUNT = Number(process.env.RECORDS ?? 2_000_000);
const RUNS = Number(process.env.RUNS ?? 5);
const BATCH_INTERVAL_MS = 1000;

// The four user functions every variant runs, so only the plumbing around them differs.
const double = (event: Event): number => event.value * 2;
const notMultipleOfThree = (value: number): boolean => value % 3 !== 0;
const withNext = (value: number): number[] => [value, value + 1];
const increment = (value: number): number => value + 1;

const records: Event[] = Array.from({ length: RECORD_COUNT }, (_, id) => ({ id, value: (id * 7919) % 1000 }));

/** Only what a DStream asks of its context: the bench drives batches by calling getOrCompute. */
const context: StreamingContextLike = {
  batchIntervalMs: BATCH_INTERVAL_MS,
  zeroTimeMs: 0,
  registerInput: () => undefined,
  assertCanAddOperation: () => undefined,
  registerOutput: () => undefined,
  // The bench never stops a context: termination is a promise that never settles.
  awaitTermination: () => new Promise<void>(() => undefined),
};

const source = new DStream<Event>(context, {
  name: 'memory',
  slideDurationMs: BATCH_INTERVAL_MS,
  dependencies: [],
  compute: () => records,
});
const fused = source.map(double).filter(notMultipleOfThree).flatMap(withNext).map(increment);
const piped = source.pipe(rxMap(double), rxFilter(notMultipleOfThree), mergeMap(withNext), rxMap(increment));
let nextBatchTimeMs = BATCH_INTERVAL_MS;

/** The batch of `stream` at a fresh time: getOrCompute remembers batches it already computed. */
function nextBatch(stream: DStream<number>): Promise<readonly number[]> {
  const batch = stream.getOrCompute(nextBatchTimeMs) as Promise<readonly number[]>;
  stream.clearMetadata(nextBatchTimeMs);
  nextBatchTimeMs += BATCH_INTERVAL_MS;
  return batch;
}

type Variant = () => Promise<readonly number[]> | readonly number[];

const variants: Record<string, Variant> = {
  'hand-written loop (baseline)': () => {
    const output: number[] = [];
    for (let index = 0; index < records.length; index++) {
      const doubled = double(records[index]);
      if (notMultipleOfThree(doubled)) for (const value of withNext(doubled)) output.push(increment(value));
    }
    return output;
  },
  'fused DStream chain': () => nextBatch(fused),
  'chained Array map/filter/flatMap': () =>
    records.map(double).filter(notMultipleOfThree).flatMap(withNext).map(increment),
  'per-record RxJS pipeline': () =>
    lastValueFrom(
      from(records).pipe(rxMap(double), rxFilter(notMultipleOfThree), mergeMap(withNext), rxMap(increment), toArray()),
    ),
  'DStream pipe(RxJS operators)': () => nextBatch(piped),
};

function checksum(values: readonly number[]): string {
  let sum = 0;
  for (const value of values) sum = (sum + value) % 1_000_000_007;
  return `${values.length}/${sum}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  console.log(
    `operators: ${RECORD_COUNT} records, map → filter → flatMap → map, median of ${RUNS} rounds after a warm-up round`,
  );
  const entries = Object.entries(variants);
  const timings = new Map<string, number[]>(entries.map(([name]) => [name, []]));
  let expected: string | undefined;
  // Round-robin rather than all runs of one variant in a row: on a shared machine, load that
  // comes and goes then spreads over every variant instead of skewing one of them.
  for (let round = 0; round <= RUNS; round++) {
    for (const [name, run] of entries) {
      // Start each run from a collected heap when node runs with --expose-gc, so no variant
      // pays for the garbage of the one before it.
      (globalThis as { gc?: () => void }).gc?.();
      const started = process.hrtime.bigint();
      const output = await run();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // Every variant must produce the same records, or the comparison means nothing.
      const sum = checksum(output);
      if (expected === undefined) expected = sum;
      else if (sum !== expected) throw new Error(`${name} produced ${sum}, expected ${expected}`);
      if (round > 0) timings.get(name)?.push(ms);
    }
  }
  const results = entries.map(([name]) => ({ name, ms: median(timings.get(name) ?? []) }));
  const baselineMs = results[0].ms;
  for (const { name, ms } of results) {
    const perSecond = (RECORD_COUNT / ms) * 1000;
    console.log(
      `${name.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms  ${(perSecond / 1e6).toFixed(2).padStart(6)} M records/s  ` +
        `${(baselineMs / ms).toFixed(2)}× baseline`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
