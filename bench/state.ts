/**
 * State at scale: 1,000,000 keys kept by `updateStateByKey` and by `mapWithState`, each batch
 * bringing 100,000 records over random keys, against a hand-written Map loop doing the same
 * updates (the baseline), all measured on one machine in one run. Reports the median batch time
 * and the process's memory (RSS and heap) with the state in place; each variant runs in its own
 * child process, so one's memory does not count against another's, once per round.
 *
 * Build core and this package (`npx tsc -b packages/core bench`), then
 * `node --expose-gc bench/dist/state.js`. `KEYS`, `RECORDS`, `BATCHES` and `ROUNDS` in the
 * environment override the defaults. Not part of `npm test` or `npm run bench`.
 */
import { fork } from 'node:child_process';
import { DStream, type State, StateSpec, type StreamingContextLike } from '@dstream/core';

const KEY_COUNT = Number(process.env.KEYS ?? 1_000_000);
const RECORDS_PER_BATCH = Number(process.env.RECORDS ?? 100_000);
const BATCHES = Number(process.env.BATCHES ?? 6);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const BATCH_INTERVAL_MS = 1000;

type Pair = readonly [string, number];

const keys = Array.from({ length: KEY_COUNT }, (_, index) => `user-${index}`);

/** Batch `index`'s records: seeded, so every variant sees the same ones. */
function batchOf(index: number): Pair[] {
  let seed = (index + 1) * 2654435761;
  const records: Pair[] = new Array(RECORDS_PER_BATCH);
  for (let record = 0; record < RECORDS_PER_BATCH; record++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    records[record] = [keys[seed % KEY_COUNT], 1];
  }
  return records;
}

const batches = Array.from({ length: BATCHES + 1 }, (_, index) => batchOf(index));
const initialState = (): [string, number][] => keys.map((key) => [key, 0]);

/** Only what a DStream asks of its context: the bench drives batches by calling prepare and getOrCompute. */
const context: StreamingContextLike = {
  batchIntervalMs: BATCH_INTERVAL_MS,
  zeroTimeMs: 0,
  registerInput: () => undefined,
  assertCanAddOperation: () => undefined,
  registerOutput: () => undefined,
  awaitTermination: () => new Promise<void>(() => undefined),
};

function source(): DStream<Pair> {
  return new DStream<Pair>(context, {
    name: 'memory',
    slideDurationMs: BATCH_INTERVAL_MS,
    dependencies: [],
    compute: (time) => batches[time / BATCH_INTERVAL_MS - 1],
  });
}

/** Runs every batch through `stream`, returning each batch's time and the last batch's size. */
async function drive(stream: DStream<unknown>): Promise<{ times: number[]; size: number }> {
  const times: number[] = [];
  let size = 0;
  for (let batch = 1; batch <= batches.length; batch++) {
    const time = batch * BATCH_INTERVAL_MS;
    const started = process.hrtime.bigint();
    await stream.prepare(time);
    size = (await stream.getOrCompute(time)!).length;
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    stream.clearMetadata(time);
  }
  return { times, size };
}

const variants: Record<string, () => Promise<{ times: number[]; size: number }>> = {
  'hand-written Map loop (baseline)': async () => {
    const state = new Map<string, number>(initialState());
    const times: number[] = [];
    let size = 0;
    for (const batch of batches) {
      const started = process.hrtime.bigint();
      const groups = new Map<string, number[]>();
      for (const [key, value] of batch) {
        const values = groups.get(key);
        if (values === undefined) groups.set(key, [value]);
        else values.push(value);
      }
      for (const [key, total] of state) {
        const values = groups.get(key);
        if (values !== undefined) groups.delete(key);
        // The same update for every key; a key whose total did not change is not written again,
        // as updateStateByKey does not write back an unchanged state.
        const next = total + (values?.length ?? 0);
        if (next !== total) state.set(key, next);
      }
      for (const [key, values] of groups) state.set(key, values.length);
      size = Array.from(state).length;
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return { times, size };
  },
  updateStateByKey: () =>
    drive(source().updateStateByKey<number>((values, total = 0) => total + values.length, { initialState: initialState() })),
  mapWithState: () =>
    drive(
      source().mapWithState(
        StateSpec.function((_key: string, value: number | undefined, state: State<number>) => {
          state.update((state.getOption() ?? 0) + value!);
          return undefined;
        }).initialState(initialState()),
      ),
    ),
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function runVariant(name: string): Promise<void> {
  const { times, size } = await variants[name]();
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  // The first batch warms up the JIT: left out of the median.
  process.send!({ name, ms: median(times.slice(1)), size, rss, heapUsed });
}

interface VariantResult {
  readonly ms: number;
  readonly size: number;
  readonly rss: number;
  readonly heapUsed: number;
}

function runInChild(name: string): Promise<VariantResult> {
  const child = fork(__filename, [], { env: { ...process.env, STATE_BENCH_VARIANT: name }, execArgv: process.execArgv });
  return new Promise<VariantResult>((resolve, reject) => {
    child.once('message', (message) => {
      child.kill();
      resolve(message as VariantResult);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before reporting`)));
  });
}

async function main(): Promise<void> {
  const variant = process.env.STATE_BENCH_VARIANT;
  if (variant !== undefined) return runVariant(variant);
  console.log(
    `state: ${KEY_COUNT} keys, ${RECORDS_PER_BATCH} records a batch, median of ${BATCHES} batches after a warm-up batch, ` +
      `median of ${ROUNDS} rounds`,
  );
  const names = Object.keys(variants);
  const results = new Map<string, VariantResult[]>(names.map((name) => [name, []]));
  // Rounds over all variants rather than all runs of one in a row: on a shared machine, load that
  // comes and goes then spreads over every variant instead of skewing one of them.
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) results.get(name)!.push(await runInChild(name));
  }
  let baselineMs: number | undefined;
  for (const name of names) {
    const runs = results.get(name)!;
    const ms = median(runs.map((run) => run.ms));
    baselineMs ??= ms;
    console.log(
      `${name.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms/batch  ${(baselineMs / ms).toFixed(2)}× baseline  ` +
        `RSS ${mib(median(runs.map((run) => run.rss)))}  heap ${mib(median(runs.map((run) => run.heapUsed)))}  ` +
        `(rounds: ${runs.map((run) => run.ms.toFixed(0)).join(', ')} ms; last batch: ${runs[0].size} records)`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
