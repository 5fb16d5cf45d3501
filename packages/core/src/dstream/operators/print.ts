import { ConfigError } from '../../errors';
import { defineOperator, type DStream } from '../graph';
import { formatRecord } from '../formatRecord';
import { registerOutput } from '../registerOutput';

/** Where `print` writes: anything with a `write(text)` method, such as `process.stdout` or a test's buffer. */
export interface PrintSink {
  write(text: string): unknown;
}

const RULE = '-------------------------------------------';

/** `source.print(count, out)`: the first `count` records of every batch, in Spark's layout. */
export function print<T>(source: DStream<T>, count: number, out: PrintSink): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new ConfigError('print(count)', count, 'must be a non-negative integer', 'Pass how many records of each batch to print, e.g. 10.');
  }
  if (typeof out !== 'object' || out === null || typeof out.write !== 'function') {
    throw new ConfigError('print(out)', out, 'must have a write(text) method', 'Pass process.stdout, a stream.Writable or { write(text) {…} }.');
  }
  registerOutput(source, 'print', (records, { time }) => {
    const lines = [RULE, `Time: ${time} ms`, RULE];
    for (let index = 0; index < Math.min(count, records.length); index++) lines.push(formatRecord(records[index]));
    if (records.length > count) lines.push('...');
    // One write per batch, so batches printed by concurrent jobs on one stdout never interleave.
    out.write(`${lines.join('\n')}\n\n`);
  });
}

declare module '../graph' {
  interface DStream<T, Tx = unknown> {
    /**
     * Prints the first `count` records of every batch to `out` (default `process.stdout`) in
     * Spark's layout: a rule, `Time: <ms> ms`, a rule, the records (strings as they are, anything
     * else as JSON), `...` when the batch has more, and a blank line.
     *
     * @example
     * counts.print(); // first 10 records of each batch
     * counts.print(5, { write: (text) => void lines.push(text) });
     */
    print(count?: number, out?: PrintSink): void;
  }
}

defineOperator('print', (source, count = 10, out = process.stdout) => print(source, count, out));
