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

import { redact, redactText } from './redact';

/** One field for a log line: errors by message, lists comma-separated, objects as JSON. */
export function formatField(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (Array.isArray(value)) return value.map(formatField).join(',');
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

// One line per message, `key=value` fields after it, so logs stay greppable.
function write(method: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
  let line = `[dstream] ${message}`;
  if (fields !== undefined) {
    for (const [key, value] of Object.entries(redact(fields))) line += ` ${key}=${formatField(value)}`;
  }
  console[method](redactText(line));
  const error = fields?.error;
  // Keep the stack of an unexpected error; the line above already has its message.
  if (method === 'error' && error instanceof Error && error.stack) console.error(redactText(error.stack));
}

/** Marks a logger `redactingLogger` made, so that wrapping it again is a no-op. */
const REDACTING = Symbol('dstream.redactingLogger');

/**
 * `logger`, with every message and field passed through the redaction rule (`redact`) first, so
 * a logger of the user's (pino, winston) never receives a credential from dstream.
 */
export function redactingLogger(logger: Logger): Logger {
  if ((logger as { [REDACTING]?: boolean })[REDACTING] === true) return logger;
  const wrap =
    (level: keyof Logger) =>
    (message: string, fields?: Record<string, unknown>): void =>
      fields === undefined ? logger[level](redactText(message)) : logger[level](redactText(message), redact(fields));
  return Object.assign(
    { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') },
    { [REDACTING]: true },
  );
}

/** `[dstream] message key=value` lines on the console (info, warnings, errors; debug is dropped). */
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

/**
 * The same logger with `fields` added to every message (the message's own fields win), e.g. the
 * stream's name on everything a Kafka input logs. `fields` may be a function, read per message.
 *
 * @example
 * const log = withFields(logger, { stream: 'kafka[events]' });
 * log.warn('offset reset'); // fields: { stream: 'kafka[events]' }
 */
export function withFields(
  logger: Logger,
  fields: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>),
): Logger {
  const merge = (own?: Record<string, unknown>): Record<string, unknown> => ({
    ...(typeof fields === 'function' ? fields() : fields),
    ...own,
  });
  return {
    debug: (message, own) => logger.debug(message, merge(own)),
    info: (message, own) => logger.info(message, merge(own)),
    warn: (message, own) => logger.warn(message, merge(own)),
    error: (message, own) => logger.error(message, merge(own)),
  };
}
