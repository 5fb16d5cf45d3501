/**
 * The one redaction rule of dstream. Every error message, log line, listener event and
 * `util.inspect`/`toJSON` of a stream, store or options object passes through it, so credentials
 * given in `kafkaParams`, a store URL or a driver's options are never printed.
 *
 * A key is secret when, compared case-insensitively and split into words at `.`, `_` and `-`:
 * - a word contains `password`, `passwd`, `passphrase`, `secret` or `credential`
 *   (`sasl.password`, `ssl.key.password`, `ssl.keystore.password`, `sasl.oauthbearer.client.secret`);
 * - a word after the first starts with `key`: key material and where it lives (`ssl.key.pem`,
 *   `ssl.key.location`, `ssl.keystore.location`, `ssl_key`, `…private.key.pem`, `sasl.kerberos.keytab`),
 *   but not `key.deserializer`, `keyPrefix` or `keyDeserializer`, whose first word is the key;
 * - the last word ends with `token` (`token`, `access_token`, `accessToken`), not `token.endpoint.url`;
 * - it is a SASL setting that embeds credentials: `sasl.jaas.config`, `sasl.oauthbearer.config`,
 *   `sasl.oauthbearer.extensions`;
 * - it is `authorization` or `auth` (HTTP headers, ZooKeeper's auth info).
 *
 * A secret key's value is shown as `***`, whatever its type. In any string, the user-info part of
 * a URL (`redis://:pw@host`, `postgres://user:pw@host`) becomes `***` (`redis://***@host`), and a
 * secret key written as `key=value` or `"key":"value"` has its value replaced. User names stay
 * visible where dstream names them on purpose (`AuthenticationError.user`).
 */
import { inspect, type InspectOptions } from 'node:util';

/** What a redacted value is shown as. */
export const REDACTED = '***';

const SECRET_WORD = /password|passwd|passphrase|secret|credential/;
const SASL_CONFIG = new Set(['sasl.jaas.config', 'sasl.oauthbearer.config', 'sasl.oauthbearer.extensions']);

/** True when a value stored under `key` is a credential (see the module's rule). */
export function isSecretKey(key: string): boolean {
  const name = key.toLowerCase();
  if (SASL_CONFIG.has(name) || name === 'authorization' || name === 'auth') return true;
  const words = name.split(/[._-]+/).filter((word) => word !== '');
  if (words.some((word) => SECRET_WORD.test(word))) return true;
  if (words.slice(1).some((word) => word.startsWith('key'))) return true;
  const last = words[words.length - 1];
  return last !== undefined && last.endsWith('token');
}

/**
 * True when an option path names a secret: the last bracketed key of `kafkaParams["sasl.password"]`,
 * else the path itself (`password`, `auth.credentials`).
 */
export function isSecretOption(option: string): boolean {
  const bracketed = /\[\s*["']([^"']*)["']\s*\]\s*$/.exec(option);
  if (bracketed !== null) return isSecretKey(bracketed[1]);
  return isSecretKey(option);
}

/** `scheme://user-info@` in any text; the user-info ends at the authority's last `@`. */
const URL_USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]*(?:@[^\s/?#@"'<>]*)*@/gi;
/** `"key": "value"` (JSON) and `key=value` (log fields, librdkafka config dumps, URL query parameters). */
const QUOTED_PAIR = /("([^"\\]{1,200})"\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\w.+-]*|true|false|\[[^\]]*\]|\{[^}]*\})/g;
const PLAIN_PAIR = /(^|[\s,;{(?&])([A-Za-z][\w.-]{0,200})(=)("(?:[^"\\]|\\.)*"|[^\s,;)}&#]+)/g;

/** `text` with URL user-info and the values of secret `key=value` / `"key":"value"` pairs replaced by `***`. */
export function redactText(text: string): string {
  if (text.length === 0) return text;
  return text
    .replace(URL_USER_INFO, `$1${REDACTED}@`)
    .replace(QUOTED_PAIR, (match, prefix: string, key: string) => (isSecretKey(key) ? `${prefix}"${REDACTED}"` : match))
    .replace(PLAIN_PAIR, (match, lead: string, key: string, eq: string) =>
      isSecretKey(key) ? `${lead}${key}${eq}${REDACTED}` : match,
    );
}

/**
 * `name` fit for one log line: control characters (CR, LF, ESC, …) written as JSON escapes, so a
 * group id or topic name cannot start a fake line or move the cursor.
 */
export function printable(name: string): string {
  return name.replace(CONTROL, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Fields of a driver's error that say what failed and are kept on the copy `driverError` makes;
 * everything else a driver attached (the command and its arguments, the client, its options) is
 * dropped. `isTxnRequiresAbort` etc. are librdkafka's flags, read by the Kafka sinks.
 */
const ERROR_FIELDS = [
  'code',
  'errno',
  'syscall',
  'address',
  'port',
  'severity',
  'routine',
  'origin',
  'isFatal',
  'isRetriable',
  'isTxnRequiresAbort',
] as const;

/**
 * A copy of a driver's error (ioredis, pg, node-zookeeper-client, librdkafka, the file system)
 * that is safe to keep as a `cause` and to print: the same class, message and stack (redacted),
 * the fields that identify the failure (`code`, `errno`, `syscall`, …) and a redacted copy of its
 * own `cause`, nothing else. ioredis' `ReplyError.command.args` holds the password of a failed
 * AUTH; this is what keeps it out of `console.error(error)`. dstream's own errors are returned as
 * they are: they were built redacted.
 *
 * @example
 * throw new OffsetStoreError('redis', `load at ${address} failed: ${error.message}`, { cause: driverError(error) });
 */
export function driverError(error: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (!(error instanceof Error)) {
    return typeof error === 'string' ? redactText(error) : typeof error === 'object' && error !== null ? redact(error) : error;
  }
  if (isRedactedError(error) || seen.has(error)) return error;
  seen.add(error);
  // A real Error (not Object.create) so that util.inspect prints it as one, stack and all.
  const copy = new Error(redactText(String(error.message ?? ''))) as Error & Record<string, unknown>;
  Object.setPrototypeOf(copy, Object.getPrototypeOf(error));
  const source = error as Error & Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(error, 'name')) define(copy, 'name', String(error.name));
  if (typeof error.stack === 'string') define(copy, 'stack', redactText(error.stack));
  for (const field of ERROR_FIELDS) {
    const value = source[field];
    if (value === undefined || typeof value === 'function' || (typeof value === 'object' && value !== null)) continue;
    copy[field] = typeof value === 'string' ? redactText(value) : value;
  }
  if (error.cause !== undefined) define(copy, 'cause', driverError(error.cause, seen));
  define(copy, REDACTED_MARK, true);
  return copy;
}

/** Marks dstream's own errors and the copies `driverError` made: already safe to print. */
const REDACTED_MARK = Symbol.for('dstream.redacted');

/** Marks an error built by dstream (its message was redacted when it was made). */
export function markRedacted(error: Error): void {
  define(error, REDACTED_MARK, true);
}

function isRedactedError(error: Error): boolean {
  return (error as unknown as Record<symbol, unknown>)[REDACTED_MARK] === true;
}

function define(target: object, key: string | symbol, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false });
}

/** Deepest nesting `redact` copies; anything deeper is shown as `[…]`. */
const MAX_DEPTH = 8;

/**
 * A copy of `value` fit to print: values of secret keys (at any depth) become `***`, strings lose
 * URL user-info, errors become `driverError` copies. Plain objects, arrays and Maps are copied;
 * other class instances become plain objects of their own enumerable fields (redacted the same
 * way) unless they define their own `util.inspect` hook, which is trusted. Buffers, dates,
 * functions and numbers are kept. Cycles are cut (`[Circular]`).
 *
 * @example
 * redact({ 'sasl.password': 'pw', url: 'redis://:pw@127.0.0.1:6379' });
 * // { 'sasl.password': '***', url: 'redis://***@127.0.0.1:6379' }
 */
export function redact<T>(value: T): T {
  return copyRedacted(value, 0, new WeakSet()) as T;
}

function copyRedacted(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Error) return driverError(value);
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[…]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => copyRedacted(item, depth + 1, seen));
    if (value instanceof Map) {
      return new Map(
        [...value].map(([key, item]) => [
          key,
          typeof key === 'string' && isSecretKey(key) ? REDACTED : copyRedacted(item, depth + 1, seen),
        ]),
      );
    }
    if (value instanceof Set) return new Set([...value].map((item) => copyRedacted(item, depth + 1, seen)));
    const proto = Object.getPrototypeOf(value) as object | null;
    const isPlain = proto === Object.prototype || proto === null;
    if (!isPlain && typeof (value as Record<symbol, unknown>)[inspect.custom] === 'function') return value;
    const copy: Record<string, unknown> = {};
    let entries: Array<[string, unknown]>;
    try {
      entries = Object.entries(value);
    } catch {
      return '[unreadable]';
    }
    for (const [key, item] of entries) {
      copy[key] = isSecretKey(key) ? REDACTED : copyRedacted(item, depth + 1, seen);
    }
    return copy;
  } finally {
    seen.delete(value);
  }
}

/**
 * Gives an object a `util.inspect` hook and a `toJSON` that show `view()` redacted, so that
 * `console.log(store)`, `util.inspect(options)` and `JSON.stringify(stream)` print no secret.
 * The view is what a reader needs (name, address, settings), never a driver's client. Both
 * methods are non-enumerable: spreading the object copies neither.
 *
 * @example
 * redactedView(this, 'RedisOffsetStore', () => ({ address: this.address, keyPrefix: this.keyPrefix }));
 */
export function redactedView(target: object, name: string, view: () => Record<string, unknown>): void {
  define(target, inspect.custom, (depth: number, options: InspectOptions, inspectFn: typeof inspect = inspect) => {
    if (depth < 0) return `[${name}]`;
    const shown = copyRedacted(view(), 0, new WeakSet());
    return `${name} ${inspectFn(shown, { ...options, depth: options.depth == null ? null : options.depth - 1 })}`;
  });
  define(target, 'toJSON', () => copyRedacted(view(), 0, new WeakSet()));
}
