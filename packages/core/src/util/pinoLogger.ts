import pino from 'pino';
import { ConfigError } from '../errors';
import { type Logger, formatField } from './Logger';

/** Levels of the default logger, lowest first; `silent` logs nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Where log lines go: anything with `write(line)`, e.g. `process.stderr` or a file stream. */
export interface LogDestination {
  write(line: string): unknown;
}

/** Options of the default logger (`StreamingContextOptions.logging`). */
export interface LoggingOptions {
  /**
   * `json`: one JSON object per line, for log shippers. `pretty`: one readable line per message,
   * for a terminal. Default: `DSTREAM_LOG_FORMAT` if set, else `pretty` when stdout is a TTY,
   * else `json`.
   */
  readonly format?: 'json' | 'pretty';
  /** Lowest level written. Default: `DSTREAM_LOG_LEVEL` if set, else `info`. */
  readonly level?: LogLevel;
  /** Where lines go. Default: standard output, written synchronously so no line is lost at exit. */
  readonly destination?: LogDestination;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const FORMATS = ['json', 'pretty'] as const;

/** Terminal colors of the pretty form's level names. */
const COLORS: Readonly<Record<string, string>> = { debug: '90', info: '32', warn: '33', error: '31' };

/**
 * The default logger: pino, with `app` on every line and the fields dstream passes (`stream`,
 * `batchTimeMs`, `offsetRanges`, `error` with its stack, …) as JSON fields.
 *
 * @example
 * const logger = pinoLogger('word-count', { format: 'json', level: 'debug' });
 * logger.info('started', { batchIntervalMs: 1000 });
 * // {"level":"info","time":"2026-…","app":"word-count","batchIntervalMs":1000,"msg":"started"}
 */
export function pinoLogger(app: string, options: LoggingOptions = {}): Logger {
  const format = options.format ?? envChoice('DSTREAM_LOG_FORMAT', FORMATS) ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const level = options.level ?? envChoice('DSTREAM_LOG_LEVEL', LEVELS) ?? 'info';
  checkChoice('logging.format', format, FORMATS);
  checkChoice('logging.level', level, LEVELS);
  const target = options.destination ?? (format === 'json' ? pino.destination({ dest: 1, sync: true }) : process.stdout);
  const isColored = options.destination === undefined && process.stdout.isTTY === true;
  const destination = format === 'json' ? target : { write: (line: string) => target.write(prettyLine(line, isColored)) };
  const log = pino(
    {
      level,
      base: { app },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: pino.stdSerializers.err },
    },
    destination,
  );
  const write = (method: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
    if (fields === undefined) log[method](message);
    else log[method](fields, message);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * One JSON line as a terminal line: `time LEVEL message key=value…` (the app's and the stream's
 * names only where the message does not start with them), offset ranges as `topic-p [from, until)`,
 * and an error's stack under it.
 */
function prettyLine(json: string, isColored: boolean): string {
  const { time, level, app, msg, ...fields } = JSON.parse(json) as Record<string, unknown>;
  const message = String(msg);
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const name = String(level).toUpperCase().padEnd(5);
  const prefix = message.startsWith(`${String(app)}: `) ? '' : `${String(app)}: `;
  let line = `${clock} ${isColored ? `\u001b[${COLORS[String(level)] ?? '0'}m${name}\u001b[0m` : name} ${prefix}${message}`;
  let stack = '';
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'stream' && message.startsWith(`${String(value)}: `)) continue;
    if (isSerializedError(value)) {
      line += ` ${key}=${formatField(value.message)}`;
      if (level === 'error' && typeof value.stack === 'string') stack += `\n${value.stack}`;
    } else {
      line += ` ${key}=${formatField(Array.isArray(value) ? value.map(asRangeText) : value)}`;
    }
  }
  return `${line}${stack}\n`;
}

/** An offset range's JSON as `topic-p [from, until)`, as `OffsetRange.toString()` writes it; anything else as is. */
function asRangeText(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const { topic, partition, fromOffset, untilOffset } = value as Record<string, unknown>;
  if (typeof topic !== 'string' || typeof fromOffset !== 'number' || typeof untilOffset !== 'number') return value;
  return `${topic}-${String(partition)} [${fromOffset}, ${untilOffset})`;
}

function isSerializedError(value: unknown): value is { message: string; stack?: string } {
  return typeof value === 'object' && value !== null && 'type' in value && 'message' in value && 'stack' in value;
}

function envChoice<T extends string>(name: string, choices: readonly T[]): T | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  checkChoice(name, value, choices);
  return value as T;
}

function checkChoice(option: string, value: unknown, choices: readonly string[]): void {
  if (typeof value !== 'string' || !choices.includes(value)) {
    throw new ConfigError(option, value, `must be one of ${choices.join(', ')}`, `Pass e.g. '${choices[0]}'.`);
  }
}
