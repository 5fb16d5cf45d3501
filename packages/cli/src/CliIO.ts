import type { ProgressStream } from './output/Progress';

/** Where a command writes: results to `out`, progress and messages to `err`; `in` for `import -`. */
export interface CliIO {
  readonly out: { write(text: string): unknown };
  readonly err: ProgressStream;
  readonly in: NodeJS.ReadableStream;
}

/** The process's own streams. */
export const processIO: CliIO = { out: process.stdout, err: process.stderr, in: process.stdin };
