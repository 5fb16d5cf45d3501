/**
 * Encodes Kafka record batches (format v2) for tests of the fetch path: what a broker would put in
 * a Fetch response's `records`, including the crc32c, with knobs to produce what the reader must
 * refuse (another magic, other compression bits).
 */
import { gzipSync } from 'zlib';

/** One record to encode; offset and timestamp deltas default to its index and 0. */
export interface EncodedRecord {
  readonly offsetDelta?: number;
  readonly timestampDelta?: number;
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: ReadonlyArray<{ readonly key: string; readonly value: Buffer | string | null }>;
}

/** A record batch to encode. */
export interface RecordBatchOptions {
  readonly baseOffset: number;
  readonly records: readonly EncodedRecord[];
  readonly baseTimestamp?: number;
  readonly compression?: 'none' | 'gzip';
  readonly isTransactional?: boolean;
  readonly isControl?: boolean;
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly logAppendTime?: boolean;
  /** Defaults to baseTimestamp + the largest timestamp delta. */
  readonly maxTimestamp?: number;
  /** Defaults to the largest offset delta (compaction keeps it when it removes the last record). */
  readonly lastOffsetDelta?: number;
  /** Written at byte 16; the rest of the layout stays v2. */
  readonly magic?: number;
  /** Compression bits written to the attributes instead of `compression`'s (the records stay as `compression` encodes them). */
  readonly codecBits?: number;
}

/** Encodes one record batch (magic 2 unless told otherwise). */
export function encodeRecordBatch(options: RecordBatchOptions): Buffer {
  const baseTimestamp = options.baseTimestamp ?? 0;
  const records = options.records.map((record, index) => encodeRecord(record, index));
  const offsetDeltas = options.records.map((record, index) => record.offsetDelta ?? index);
  const timestampDeltas = options.records.map((record) => record.timestampDelta ?? 0);
  let recordBytes = Buffer.concat(records);
  if (options.compression === 'gzip') recordBytes = gzipSync(recordBytes);

  const header = Buffer.alloc(61);
  header.writeBigInt64BE(BigInt(options.baseOffset), 0);
  header.writeInt32BE(61 - 12 + recordBytes.length, 8);
  header.writeInt32BE(0, 12); // partition leader epoch
  header.writeInt8(options.magic ?? 2, 16);
  const codec = options.codecBits ?? (options.compression === 'gzip' ? 1 : 0);
  const attributes =
    codec |
    (options.logAppendTime === true ? 0x08 : 0) |
    (options.isTransactional === true ? 0x10 : 0) |
    (options.isControl === true ? 0x20 : 0);
  header.writeInt16BE(attributes, 21);
  header.writeInt32BE(options.lastOffsetDelta ?? Math.max(0, ...offsetDeltas), 23);
  header.writeBigInt64BE(BigInt(baseTimestamp), 27);
  header.writeBigInt64BE(BigInt(options.maxTimestamp ?? baseTimestamp + Math.max(0, ...timestampDeltas)), 35);
  header.writeBigInt64BE(BigInt(options.producerId ?? -1), 43);
  header.writeInt16BE(options.producerEpoch ?? -1, 51);
  header.writeInt32BE(-1, 53); // base sequence
  header.writeInt32BE(records.length, 57);
  const batch = Buffer.concat([header, recordBytes]);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

function encodeRecord(record: EncodedRecord, index: number): Buffer {
  const parts: Buffer[] = [
    Buffer.from([0]), // attributes
    varint(record.timestampDelta ?? 0),
    varint(record.offsetDelta ?? index),
    ...bytesField(record.key),
    ...bytesField(record.value),
    varint(record.headers?.length ?? 0),
  ];
  for (const header of record.headers ?? []) {
    const key = Buffer.from(header.key, 'utf8');
    parts.push(varint(key.length), key, ...bytesField(header.value));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([varint(body.length), body]);
}

/** A length-prefixed byte field: length -1 and no bytes for null. */
function bytesField(value: Buffer | string | null): Buffer[] {
  if (value === null) return [varint(-1)];
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return [varint(bytes.length), bytes];
}

/** A zigzag varint/varlong: both share one encoding, the reader only bounds their length. */
function varint(value: number): Buffer {
  const n = BigInt(value);
  let zigzag = n >= 0n ? n * 2n : -n * 2n - 1n;
  const bytes: number[] = [];
  while (zigzag >= 0x80n) {
    bytes.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return Buffer.from(bytes);
}

const CRC32C_TABLE = makeCrc32cTable();

function makeCrc32cTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i;
    // Castagnoli polynomial, reflected.
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    table[i] = crc >>> 0;
  }
  return table;
}

function crc32c(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
