/**
 * Decodes one partition's `records` from a Fetch response (record batch format v2, magic 2) into
 * records, lazily: the constructor reads only batch headers; `read` decodes records up to a count
 * and remembers where it stopped, so the bytes of a response are turned into objects only as fast
 * as the job takes them.
 */
import { gunzipSync } from 'zlib';
import { KafkaError } from '../../errors';
import type { FetchedRecord, KafkaHeader, RecordBuilder } from '../kafkaCapabilities';

/** An aborted transaction as a Fetch response lists it (read_committed). */
export interface AbortedTransaction {
  readonly producerId: number;
  readonly firstOffset: number;
}

/**
 * Thrown by the `FetchedRecords` constructor when the data holds a batch this reader cannot decode
 * (magic 0/1, or compression snappy/lz4/zstd). Nothing of the data was delivered: another client
 * can read the partition from the same offset.
 */
export class UnsupportedRecordFormatError extends KafkaError {
  /** Base offset of the batch that cannot be decoded. */
  readonly offset: number;
  /** What about that batch is unsupported, e.g. `lz4 compression`. */
  readonly reason: string;

  constructor(topic: string, partition: number, offset: number, reason: string) {
    super(`${topic}-${partition}: cannot decode the record batch at offset ${offset} (${reason})`, { retriable: false });
    this.offset = offset;
    this.reason = reason;
  }
}

/** baseOffset int64 + batchLength int32: the bytes of a batch that batchLength does not count. */
const LOG_OVERHEAD = 12;
/** A v2 batch header, from baseOffset through the records count: records start after it. */
const BATCH_HEADER_BYTES = 61;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const BASE_TIMESTAMP_AT = 27;
const MAX_TIMESTAMP_AT = 35;
const PRODUCER_ID_AT = 43;
const RECORDS_COUNT_AT = 57;

const COMPRESSION_MASK = 0x07;
const CODEC_GZIP = 1;
const LOG_APPEND_TIME_BIT = 0x08;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
/** Control record key `type`: an aborted transaction's end marker (1 is COMMIT). */
const CONTROL_TYPE_ABORT = 0;

/** Shared by every record without headers (most of them): one frozen array instead of one each. */
const NO_HEADERS: readonly KafkaHeader[] = Object.freeze([]);
/** A header whose value is null; zero bytes long, so sharing it lets no one write into another's. */
const EMPTY_VALUE = Buffer.alloc(0);
const TWO_POW_32 = 4294967296;

/**
 * The read position of the varint decoders below. Module-level so a decoder can return its value
 * and advance the position without allocating a pair; only used between two statements of one
 * synchronous decode, never across a call out to user code.
 */
let at = 0;

/** A zigzag varint (int32) at `at`. */
function readVarint(buf: Buffer): number {
  let byte = buf[at++];
  // Lengths under 64 and small deltas fit one byte: the common case skips the loop.
  if (byte < 0x80) return (byte >>> 1) ^ -(byte & 1);
  let raw = byte & 0x7f;
  let shift = 7;
  do {
    byte = buf[at++];
    raw |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte >= 0x80 && shift < 35);
  return (raw >>> 1) ^ -(raw & 1);
}

/** A zigzag varlong at `at`, as a number: arithmetic, not 32-bit bitwise ops, since deltas can exceed 2^31. */
function readVarlong(buf: Buffer): number {
  let byte = buf[at++];
  if (byte < 0x80) return (byte >>> 1) ^ -(byte & 1);
  let raw = byte & 0x7f;
  let scale = 128;
  do {
    byte = buf[at++];
    raw += (byte & 0x7f) * scale;
    scale *= 128;
  } while (byte >= 0x80 && scale <= 2 ** 63);
  // Zigzag: even raw values are non-negative (raw / 2), odd ones negative (-(raw + 1) / 2).
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

/** A big-endian int64 as a number, without a BigInt (exact below 2^53, as offsets and timestamps are). */
function readInt64(buf: Buffer, position: number): number {
  return buf.readInt32BE(position) * TWO_POW_32 + buf.readUInt32BE(position + 4);
}

/** `count` record headers at `at`. */
function readHeaders(buf: Buffer, count: number): KafkaHeader[] {
  const headers: KafkaHeader[] = new Array<KafkaHeader>(count);
  for (let i = 0; i < count; i++) {
    const keyLength = readVarint(buf);
    const key = buf.toString('utf8', at, at + keyLength);
    at += keyLength;
    const valueLength = readVarint(buf);
    let value: Buffer = EMPTY_VALUE;
    if (valueLength >= 0) {
      // A copy: headers are few, and a record kept past its batch must not hold the whole response.
      value = Buffer.from(buf.subarray(at, at + valueLength));
      at += valueLength;
    }
    headers[i] = { key, value };
  }
  return headers;
}

/**
 * The records of one partition in one Fetch response, read with a cursor. Keys and values are views
 * into the response (or into a gzip batch's decompressed bytes), never copies. Skips what a consumer
 * never sees: records below the fetch offset, control batches, and under read_committed the batches
 * of aborted transactions, as Kafka's Java consumer does.
 */
export class FetchedRecords {
  /**
   * The offset after the last complete batch in the data (its base offset + last offset delta + 1),
   * or the fetch offset when there is none (never below it): where the next fetch starts.
   */
  readonly endOffset: number;
  /** data.length (for memory accounting). */
  readonly bytes: number;

  private readonly topic: string;
  private readonly partition: number;
  private readonly data: Buffer;
  private readonly fetchOffset: number;
  private readonly isReadCommitted: boolean;
  /** Aborted transactions by first offset; those before `abortedIndex` are in `abortedProducers`. */
  private readonly aborted: readonly AbortedTransaction[];
  private abortedIndex = 0;
  private readonly abortedProducers = new Set<number>();
  /** Where the complete batches end: a partial batch after it is ignored. */
  private readonly batchesEnd: number;
  /** Where in `data` the next batch to enter starts. */
  private batchAt = 0;

  // The batch being read: where its records are (`data` or its decompressed bytes) and what they share.
  private source: Buffer;
  private position = 0;
  private recordsEnd = 0;
  private recordsLeft = 0;
  private baseOffset = 0;
  private baseTimestamp = 0;
  private maxTimestamp = 0;
  private isLogAppendTime = false;

  private isFinished: boolean;
  /** A lower bound of the next record's offset while not finished. */
  private next: number;

  constructor(
    topic: string,
    partition: number,
    data: Buffer,
    fetchOffset: number,
    isReadCommitted: boolean,
    abortedTransactions: readonly AbortedTransaction[] | null,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.data = data;
    this.source = data;
    this.bytes = data.length;
    this.fetchOffset = fetchOffset;
    this.isReadCommitted = isReadCommitted;
    this.aborted =
      isReadCommitted && abortedTransactions !== null && abortedTransactions.length > 0
        ? [...abortedTransactions].sort((a, b) => a.firstOffset - b.firstOffset)
        : [];
    let endOffset = fetchOffset;
    let batchAt = 0;
    while (batchAt + LOG_OVERHEAD <= data.length) {
      const batchLength = data.readInt32BE(batchAt + 8);
      const batchEnd = batchAt + LOG_OVERHEAD + batchLength;
      // A fetch cuts its last batch at the size limit: that batch comes whole in the next fetch.
      if (batchEnd > data.length) break;
      const baseOffset = readInt64(data, batchAt);
      // Magic sits at byte 16 in every format (v0/v1 message sets too), so it is read before assuming v2.
      const magic = batchLength >= MAGIC_AT + 1 - LOG_OVERHEAD ? data[batchAt + MAGIC_AT] : -1;
      if (magic !== 2) {
        throw new UnsupportedRecordFormatError(topic, partition, baseOffset, magic < 0 ? `batch length ${batchLength}` : `magic ${magic}`);
      }
      if (batchLength < BATCH_HEADER_BYTES - LOG_OVERHEAD) {
        const reason = `batch length ${batchLength} is shorter than a v2 batch header`;
        throw new UnsupportedRecordFormatError(topic, partition, baseOffset, reason);
      }
      const codec = data.readInt16BE(batchAt + ATTRIBUTES_AT) & COMPRESSION_MASK;
      if (codec !== 0 && codec !== CODEC_GZIP) {
        throw new UnsupportedRecordFormatError(topic, partition, baseOffset, `${CODEC_NAMES[codec] ?? `codec ${codec}`} compression`);
      }
      endOffset = Math.max(endOffset, baseOffset + data.readInt32BE(batchAt + LAST_OFFSET_DELTA_AT) + 1);
      batchAt = batchEnd;
    }
    this.batchesEnd = batchAt;
    this.endOffset = endOffset;
    this.isFinished = batchAt === 0;
    this.next = fetchOffset;
  }

  /** True once every record has been read (or skipped). */
  get isDone(): boolean {
    return this.isFinished;
  }

  /**
   * The offset of the next record `read` would return, or `endOffset` when done. Before a skipped
   * record or batch it may be below the next returned record's offset, never above it.
   */
  get nextOffset(): number {
    return this.isFinished ? this.endOffset : this.next;
  }

  /**
   * Decodes up to `max` records, pushing `build(...)` to `out` and each record's key + value bytes
   * to `sizes`; returns how many it pushed, fewer than `max` only when done.
   */
  read<R extends FetchedRecord>(max: number, build: RecordBuilder<R>, out: R[], sizes: number[]): number {
    const { topic, partition, fetchOffset } = this;
    let pushed = 0;
    while (pushed < max) {
      if (this.recordsLeft === 0 && !this.enterNextBatch()) break;
      const source = this.source;
      if (this.position >= this.recordsEnd) throw this.corrupt(this.baseOffset, 'holds fewer records than its count says');
      at = this.position;
      const length = readVarint(source);
      const recordEnd = at + length;
      if (length <= 0 || recordEnd > this.recordsEnd) throw this.corrupt(this.baseOffset, `has a record of length ${length} past its end`);
      at++; // record attributes: unused in v2
      const timestampDelta = readVarlong(source);
      const offset = this.baseOffset + readVarint(source);
      this.recordsLeft--;
      this.position = recordEnd;
      // A fetch from the middle of a batch gets the whole batch: the records before the fetch offset were read already.
      if (offset < fetchOffset) continue;
      const keyLength = readVarint(source);
      let key: Buffer | null = null;
      if (keyLength >= 0) {
        key = source.subarray(at, at + keyLength);
        at += keyLength;
      }
      const valueLength = readVarint(source);
      let value: Buffer | null = null;
      if (valueLength >= 0) {
        value = source.subarray(at, at + valueLength);
        at += valueLength;
      }
      const headerCount = readVarint(source);
      const headers = headerCount > 0 ? readHeaders(source, headerCount) : NO_HEADERS;
      const timestamp = this.isLogAppendTime ? this.maxTimestamp : this.baseTimestamp + timestampDelta;
      this.next = offset + 1;
      out.push(build(topic, partition, offset, key, value, timestamp, headers));
      sizes.push((keyLength > 0 ? keyLength : 0) + (valueLength > 0 ? valueLength : 0));
      pushed++;
    }
    // Step over batches that deliver nothing (a transaction's marker after its last record) now,
    // so `isDone` and `nextOffset` already tell where the consumer stands.
    if (this.recordsLeft === 0 && !this.isFinished) this.enterNextBatch();
    return pushed;
  }

  /**
   * Moves the cursor to the records of the next batch that may deliver some, applying the
   * read_committed rules on the way; false (and finished) when no batch is left.
   */
  private enterNextBatch(): boolean {
    const data = this.data;
    while (this.batchAt < this.batchesEnd) {
      const batchAt = this.batchAt;
      const batchEnd = batchAt + LOG_OVERHEAD + data.readInt32BE(batchAt + 8);
      this.batchAt = batchEnd;
      const baseOffset = readInt64(data, batchAt);
      const lastOffset = baseOffset + data.readInt32BE(batchAt + LAST_OFFSET_DELTA_AT);
      const attributes = data.readInt16BE(batchAt + ATTRIBUTES_AT);
      const isControl = (attributes & CONTROL_BIT) !== 0;
      this.next = Math.max(this.next, baseOffset);
      if (this.isReadCommitted) {
        const producerId = readInt64(data, batchAt + PRODUCER_ID_AT);
        this.collectAbortedUpTo(lastOffset);
        if (isControl) {
          // The ABORT marker ends the aborted transaction: the producer's later batches are a new one.
          if (this.abortedProducers.has(producerId) && this.isAbortMarker(batchAt, batchEnd, attributes)) {
            this.abortedProducers.delete(producerId);
          }
          continue;
        }
        if ((attributes & TRANSACTIONAL_BIT) !== 0 && this.abortedProducers.has(producerId)) continue;
      } else if (isControl) {
        continue;
      }
      const count = data.readInt32BE(batchAt + RECORDS_COUNT_AT);
      // Compaction can leave a batch empty, or with only records below the fetch offset.
      if (lastOffset < this.fetchOffset || count <= 0) continue;
      this.openRecords(batchAt, batchEnd, attributes);
      this.recordsLeft = count;
      this.baseOffset = baseOffset;
      this.baseTimestamp = readInt64(data, batchAt + BASE_TIMESTAMP_AT);
      this.maxTimestamp = readInt64(data, batchAt + MAX_TIMESTAMP_AT);
      this.isLogAppendTime = (attributes & LOG_APPEND_TIME_BIT) !== 0;
      return true;
    }
    this.recordsLeft = 0;
    this.isFinished = true;
    // Drops the reference to a decompressed batch: a finished segment may wait a while to be dropped.
    this.source = data;
    return false;
  }

  /** Points `source`/`position`/`recordsEnd` at a batch's records, decompressing a gzip batch. */
  private openRecords(batchAt: number, batchEnd: number, attributes: number): void {
    if ((attributes & COMPRESSION_MASK) === CODEC_GZIP) {
      try {
        this.source = gunzipSync(this.data.subarray(batchAt + BATCH_HEADER_BYTES, batchEnd));
      } catch (error) {
        throw this.corrupt(readInt64(this.data, batchAt), 'does not decompress with gzip', error);
      }
      this.position = 0;
      this.recordsEnd = this.source.length;
    } else {
      this.source = this.data;
      this.position = batchAt + BATCH_HEADER_BYTES;
      this.recordsEnd = batchEnd;
    }
  }

  /** Moves the producers of aborted transactions that start at or before `lastOffset` into the aborted set. */
  private collectAbortedUpTo(lastOffset: number): void {
    const aborted = this.aborted;
    while (this.abortedIndex < aborted.length && aborted[this.abortedIndex].firstOffset <= lastOffset) {
      this.abortedProducers.add(aborted[this.abortedIndex].producerId);
      this.abortedIndex++;
    }
  }

  /** Whether a control batch's record (key: version int16, type int16) is an ABORT marker. */
  private isAbortMarker(batchAt: number, batchEnd: number, attributes: number): boolean {
    if (this.data.readInt32BE(batchAt + RECORDS_COUNT_AT) <= 0) return false;
    this.openRecords(batchAt, batchEnd, attributes);
    const source = this.source;
    at = this.position;
    readVarint(source); // record length
    at++; // attributes
    readVarlong(source); // timestamp delta
    readVarint(source); // offset delta
    const keyLength = readVarint(source);
    return keyLength >= 4 && at + 4 <= this.recordsEnd && source.readInt16BE(at + 2) === CONTROL_TYPE_ABORT;
  }

  private corrupt(batchOffset: number, what: string, cause?: unknown): KafkaError {
    return new KafkaError(
      `${this.topic}-${this.partition}: the record batch at offset ${batchOffset} ${what}; the fetched data is corrupt`,
      { retriable: false, cause },
    );
  }
}
