/** The deserializers a direct stream turns record keys and values with. */
import { isUtf8 } from 'node:buffer';
import { ConfigError } from '../errors';
import type { Deserializer } from './DirectStreamOptions';

/**
 * Decodes bytes as UTF-8, refusing invalid sequences instead of replacing them with U+FFFD: a
 * `'string'` or `'json'` deserializer that silently turned binary or Latin-1 data into `�` would
 * hand the job a different value than the one produced. The stream reports the throw with the
 * record's topic, partition and offset.
 */
function decodeUtf8(option: string, kind: 'string' | 'json', data: Buffer): string {
  if (!isUtf8(data)) {
    throw new Error(
      `${option} '${kind}' needs UTF-8, but these ${data.length} bytes are not valid UTF-8 ` +
        `(starting ${data.subarray(0, 16).toString('hex')}${data.length > 16 ? '…' : ''}). ` +
        `Fix the producer, or pass ${option}: 'buffer' or a function (data: Buffer | null) => value to read other encodings.`,
    );
  }
  return data.toString('utf8');
}

/**
 * The bytes of a key or value in memory of their own. librdkafka's fetcher hands each one over in
 * a Buffer with a backing store of its own (a separate malloc and its bookkeeping: ~300 bytes for
 * a 10-byte key), the wire fetcher as a view into the whole fetch response, which a record kept
 * past its batch (in state, in a window) would hold. A small one is copied into Node's shared
 * allocation pool (a view on a shared 8 KiB slab): ~700 → ~460 bytes of resident memory per record
 * of a 10-byte key and 100-byte value (docs/benchmarks.md). A large one is copied only when it is
 * a view into a larger buffer.
 */
export function compactBuffer(data: Buffer): Buffer {
  if (data.length < Buffer.poolSize >>> 1) return Buffer.from(data);
  return data.byteOffset === 0 && data.length === data.buffer.byteLength ? data : Buffer.from(data);
}

export function resolveDeserializer<T>(option: string, deserializer: Deserializer<T> | undefined): (data: Buffer | null) => T {
  if (typeof deserializer === 'function') return deserializer;
  switch (deserializer ?? 'buffer') {
    case 'buffer':
      return (data) => (data === null ? null : compactBuffer(data)) as T;
    case 'string':
      return (data) => (data === null ? null : decodeUtf8(option, 'string', data)) as T;
    case 'json':
      return (data) => (data === null ? null : JSON.parse(decodeUtf8(option, 'json', data))) as T;
    default:
      throw new ConfigError(
        option,
        deserializer,
        "must be 'buffer', 'string', 'json' or a function (data: Buffer | null) => value",
        "Omit it to receive Buffers.",
      );
  }
}
