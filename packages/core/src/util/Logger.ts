/**
 * Where dstream writes what an operator of the job needs to know: lifecycle, abandoned batches,
 * listener failures. Structured fields go in `fields` so a JSON logger (pino, winston) can keep them.
 *
 * @example
 * const logger: Logger = { debug() {}, info: console.info, warn: console.warn, error: console.error };
 * new StreamingContext({ appName: 'app', batchIntervalMs: 1000, logger });
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function write(method: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
  if (fields === undefined) console[method](`[dstream] ${message}`);
  else console[method](`[dstream] ${message}`, fields);
}

/** The default logger: info, warnings and errors to the console; debug messages are dropped. */
export const consoleLogger: Logger = {
  debug: () => undefined,
  info: (message, fields) => write('info', message, fields),
  warn: (message, fields) => write('warn', message, fields),
  error: (message, fields) => write('error', message, fields),
};

/** A logger that drops everything, for tests and for callers that observe events instead. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
