import { type Observable, type OperatorFunction, from, isObservable } from 'rxjs';
import { DStream } from '../DStream';
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
  return new DStream(
    source.context,
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
