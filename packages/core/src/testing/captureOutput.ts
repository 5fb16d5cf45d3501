import { inspect } from 'node:util';

/** What `captureOutput` collected, and how to add to it and end it. */
export interface CapturedOutput {
  /** Adds what a reader would see of `value`: `util.inspect` at full depth and `JSON.stringify`. */
  record(label: string, value: unknown): void;
  /** Everything captured so far, one entry per line written or value recorded. */
  text(): string;
  /** Puts the console and the process streams back. */
  restore(): void;
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/**
 * Captures everything printed while it is active (every console method, and writes to
 * `process.stdout` and `process.stderr`) without passing it on, for tests that check what a job
 * shows, e.g. that no credential appears in any log line, error or inspected object.
 *
 * @example
 * const output = captureOutput();
 * try {
 *   console.error(await store.connect().catch((error) => error));
 *   output.record('store', store);
 * } finally {
 *   output.restore();
 * }
 * expect(output.text()).not.toContain(password);
 */
export function captureOutput(): CapturedOutput {
  const lines: string[] = [];
  const consoleOriginals = CONSOLE_METHODS.map((method) => [method, console[method]] as const);
  for (const method of CONSOLE_METHODS) {
    console[method] = (...args: unknown[]) => void lines.push(`console.${method}: ${args.map(show).join(' ')}`);
  }
  const streams = [process.stdout, process.stderr].map((stream) => [stream, stream.write] as const);
  for (const [stream] of streams) {
    stream.write = ((chunk: unknown) => {
      lines.push(`${stream === process.stdout ? 'stdout' : 'stderr'}: ${String(chunk)}`);
      return true;
    }) as typeof stream.write;
  }
  let isActive = true;
  return {
    record(label, value) {
      lines.push(`${label} (inspect): ${inspect(value, { depth: null, showHidden: false })}`);
      let json: string | undefined;
      try {
        json = JSON.stringify(value);
      } catch (error) {
        json = `not JSON: ${(error as Error).message}`;
      }
      lines.push(`${label} (JSON): ${json}`);
    },
    text: () => lines.join('\n'),
    restore() {
      if (!isActive) return;
      isActive = false;
      for (const [method, original] of consoleOriginals) console[method] = original;
      for (const [stream, write] of streams) stream.write = write;
    },
  };
}

/** A console argument as the console prints it: strings as they are, anything else inspected in full. */
function show(value: unknown): string {
  return typeof value === 'string' ? value : inspect(value, { depth: null });
}
