import { type Observable, type OperatorFunction, from, isObservable } from 'rxjs';
import { defineOperator, type DStream } from '../graph';
import { batchOf } from '../batchOf';
import { derivedNode } from '../derivedNode';
import { requireFunction } from '../requireFunction';
import { userFunctionError } from '../userFunctionError';

/**
 * `source.pipe(...operators)`: each batch becomes what the RxJS operator chain emits for an
 * Observable of the batch's records that completes at the end of the batch. Operators see one
 * batch at a time, so a stateful one (`scan`, `distinct`, `bufferCount`) starts afresh every
 * batch; state across batches belongs to dstream's window and state operators.
 */
export function pipe<T, U>(source: DStream<T>, operators: readonly OperatorFunction<unknown, unknown>[]): DStream<U> {
  operators.forEach((operator, index) =>
    requireFunction('pipe', `operators[${index}]`, operator, 'Pass RxJS operators, e.g. pipe(map((n) => n * 2), take(10)).'),
  );
  return source.derive(
    derivedNode<U>('pipe', [source], async (time) => {
      const records = await batchOf(source, time);
      if (operators.length === 0) return records as readonly unknown[] as readonly U[];
      return runChain<U>(records, operators);
    }),
  );
}

/**
 * Subscribes the chain to the batch's records and gathers what it emits. A plain subscriber
 * rather than `toArray()` + `lastValueFrom`: one operator and one promise fewer per batch.
 */
function runChain<U>(records: readonly unknown[], operators: readonly OperatorFunction<unknown, unknown>[]): Promise<U[]> {
  return new Promise<U[]>((resolve, reject) => {
    const output: U[] = [];
    let chain: Observable<unknown>;
    try {
      // Applying an operator to its source runs user code too (e.g. a custom operator): it may throw.
      chain = operators.reduce<Observable<unknown>>((observable, operator) => operator(observable), from(records));
      if (!isObservable(chain)) {
        throw new TypeError(`an operator returned ${kindOf(chain)} instead of an Observable`);
      }
    } catch (cause) {
      reject(userFunctionError('pipe', cause));
      return;
    }
    chain.subscribe({
      next: (value) => void output.push(value as U),
      error: (cause: unknown) => reject(userFunctionError('pipe', cause)),
      complete: () => resolve(output),
    });
  });
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : typeof value;
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Each batch run through RxJS operators: the batch at `time` is what the chain emits for an
     * Observable of that batch's records, which completes at the end of the batch. Operators see
     * one batch at a time, so stateful ones (`scan`, `distinct`, `bufferCount`, `take`) start afresh
     * every batch: combine batches with `window`, `reduceByKeyAndWindow` or `mapWithState`. The
     * chain must complete once its input does; asynchronous operators (`mergeMap` over promises,
     * `delay`) hold the batch until they complete. An error in the chain fails the batch with a
     * `RecordProcessingError` naming `pipe`. Costlier per record than the fused operators (see the
     * RxJS guide): use `map`/`filter` for plain per-record work.
     *
     * @example
     * import { bufferCount, distinct, map } from 'rxjs';
     * const pages = clicks.pipe(map((click) => click.page), distinct(), bufferCount(100));
     */
    pipe(): DStream<T, Tx>;
    pipe<A>(op1: OperatorFunction<T, A>): DStream<A, Tx>;
    pipe<A, B>(op1: OperatorFunction<T, A>, op2: OperatorFunction<A, B>): DStream<B, Tx>;
    pipe<A, B, C>(op1: OperatorFunction<T, A>, op2: OperatorFunction<A, B>, op3: OperatorFunction<B, C>): DStream<C, Tx>;
    pipe<A, B, C, D>(
      op1: OperatorFunction<T, A>,
      op2: OperatorFunction<A, B>,
      op3: OperatorFunction<B, C>,
      op4: OperatorFunction<C, D>,
    ): DStream<D, Tx>;
    pipe<A, B, C, D, E>(
      op1: OperatorFunction<T, A>,
      op2: OperatorFunction<A, B>,
      op3: OperatorFunction<B, C>,
      op4: OperatorFunction<C, D>,
      op5: OperatorFunction<D, E>,
    ): DStream<E, Tx>;
    pipe<A, B, C, D, E, F>(
      op1: OperatorFunction<T, A>,
      op2: OperatorFunction<A, B>,
      op3: OperatorFunction<B, C>,
      op4: OperatorFunction<C, D>,
      op5: OperatorFunction<D, E>,
      op6: OperatorFunction<E, F>,
    ): DStream<F, Tx>;
    pipe<A, B, C, D, E, F, G>(
      op1: OperatorFunction<T, A>,
      op2: OperatorFunction<A, B>,
      op3: OperatorFunction<B, C>,
      op4: OperatorFunction<C, D>,
      op5: OperatorFunction<D, E>,
      op6: OperatorFunction<E, F>,
      op7: OperatorFunction<F, G>,
    ): DStream<G, Tx>;
    pipe<A, B, C, D, E, F, G, H>(
      op1: OperatorFunction<T, A>,
      op2: OperatorFunction<A, B>,
      op3: OperatorFunction<B, C>,
      op4: OperatorFunction<C, D>,
      op5: OperatorFunction<D, E>,
      op6: OperatorFunction<E, F>,
      op7: OperatorFunction<F, G>,
      op8: OperatorFunction<G, H>,
    ): DStream<H, Tx>;
    pipe<A, B, C, D, E, F, G, H, I>(
      op1: OperatorFunction<T, A>,
      op2: OperatorFunction<A, B>,
      op3: OperatorFunction<B, C>,
      op4: OperatorFunction<C, D>,
      op5: OperatorFunction<D, E>,
      op6: OperatorFunction<E, F>,
      op7: OperatorFunction<F, G>,
      op8: OperatorFunction<G, H>,
      op9: OperatorFunction<H, I>,
    ): DStream<I, Tx>;
    pipe<A, B, C, D, E, F, G, H, I>(
      op1: OperatorFunction<T, A>,
      op2: OperatorFunction<A, B>,
      op3: OperatorFunction<B, C>,
      op4: OperatorFunction<C, D>,
      op5: OperatorFunction<D, E>,
      op6: OperatorFunction<E, F>,
      op7: OperatorFunction<F, G>,
      op8: OperatorFunction<G, H>,
      op9: OperatorFunction<H, I>,
      ...operators: OperatorFunction<any, any>[]
    ): DStream<unknown, Tx>;
  }
}

defineOperator('pipe', (source, ...operators) => pipe(source, operators));
