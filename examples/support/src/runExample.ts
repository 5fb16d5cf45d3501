import { spawnSync } from 'node:child_process';

/** What a run of an example printed, and how it ended. */
export interface ExampleRun {
  /** Exit code; null when the run was killed (e.g. by the timeout). */
  readonly status: number | null;
  /** Standard output, then standard error. */
  readonly output: string;
}

/**
 * Runs a compiled example as a user would, `node <main> ...args`, with this process's environment
 * (so `DSTREAM_*` service addresses pass through), and waits for it to end, at most `timeoutMs`.
 *
 * @example
 * const { status, output } = runExample(path.resolve(__dirname, '../dist/main.js'), ['--records', '2000']);
 */
export function runExample(main: string, args: readonly string[], timeoutMs = 100_000): ExampleRun {
  const result = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: timeoutMs, env: process.env });
  const failure = result.error === undefined ? '' : `\n${result.error.message}`;
  return { status: result.status, output: `${result.stdout}\n${result.stderr}${failure}` };
}
