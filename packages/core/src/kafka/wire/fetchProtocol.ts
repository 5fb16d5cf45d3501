/**
 * The two Kafka APIs a fetch path needs, encoded and decoded by hand from the protocol guide
 * (https://kafka.apache.org/protocol): ApiVersions v0, to learn whether a broker serves the Fetch
 * version used here, and Fetch v11 (the last version before flexible encoding and topic ids, served
 * by brokers from 2.3 through 4.x).
 */
import { KafkaError } from '../../errors';
import type { BrokerConnection } from './BrokerConnection';

/** The api_key of Fetch. */
export const API_KEY_FETCH = 1;
/** The api_key of ApiVersions. */
export const API_KEY_API_VERSIONS = 18;
/** The Fetch version this module encodes and decodes. */
export const FETCH_VERSION = 11;

/** Asks the broker which versions of each API it serves (ApiVersions v0). Map apiKey -> { min, max }. */
export async function requestApiVersions(
  connection: BrokerConnection,
  timeoutMs: number,
): Promise<Map<number, { min: number; max: number }>> {
  const body = await connection.request(API_KEY_API_VERSIONS, 0, Buffer.alloc(0), timeoutMs);
  const where = `${connection.address.host}:${connection.address.port}`;
  return decoding(`ApiVersions v0 response of broker ${where}`, body, (reader) => {
    const errorCode = reader.int16();
    if (errorCode !== 0) {
      throw new KafkaError(`broker ${where} answered ApiVersions v0 with error code ${errorCode}`, { code: errorCode });
    }
    const versions = new Map<number, { min: number; max: number }>();
    const count = reader.arrayLength();
    for (let i = 0; i < count; i++) {
      const apiKey = reader.int16();
      versions.set(apiKey, { min: reader.int16(), max: reader.int16() });
    }
    return versions;
  });
}

/** One partition of a Fetch request and where to read it from. */
export interface FetchPartitionRequest {
  readonly partition: number;
  readonly fetchOffset: number;
  readonly partitionMaxBytes: number;
}

/** The partitions of one topic a Fetch request reads. */
export interface FetchTopicRequest {
  readonly topic: string;
  readonly partitions: readonly FetchPartitionRequest[];
}

/** What a Fetch request asks for. */
export interface FetchRequest {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly isReadCommitted: boolean;
  readonly topics: readonly FetchTopicRequest[];
}

/** Bytes of the request before its topics: replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level, session_id, session_epoch, topic count. */
const FETCH_REQUEST_HEAD_BYTES = 4 + 4 + 4 + 4 + 1 + 4 + 4 + 4;
/** Bytes of one partition: partition, current_leader_epoch, fetch_offset, log_start_offset, partition_max_bytes. */
const FETCH_PARTITION_BYTES = 4 + 4 + 8 + 8 + 4;
/** Bytes after the topics: forgotten_topics_data count, rack_id length. */
const FETCH_REQUEST_TAIL_BYTES = 4 + 2;

/**
 * The body of a Fetch v11 request: replica_id -1, no fetch session (session_id 0, epoch -1),
 * current_leader_epoch -1, log_start_offset -1, no forgotten topics, rack_id "".
 */
export function encodeFetchRequest(request: FetchRequest): Buffer {
  const topicNames = request.topics.map((topic) => Buffer.from(topic.topic, 'utf8'));
  let size = FETCH_REQUEST_HEAD_BYTES + FETCH_REQUEST_TAIL_BYTES;
  request.topics.forEach((topic, i) => {
    size += 2 + topicNames[i].length + 4 + topic.partitions.length * FETCH_PARTITION_BYTES;
  });
  const buffer = Buffer.alloc(size);
  let at = 0;
  at = buffer.writeInt32BE(-1, at); // replica_id: a consumer, not a follower
  at = buffer.writeInt32BE(request.maxWaitMs, at);
  at = buffer.writeInt32BE(request.minBytes, at);
  at = buffer.writeInt32BE(request.maxBytes, at);
  at = buffer.writeInt8(request.isReadCommitted ? 1 : 0, at);
  // Full fetches (session 0, epoch -1): incremental sessions save bytes on many partitions, at the
  // price of state shared with the broker that a lost response would desynchronize.
  at = buffer.writeInt32BE(0, at);
  at = buffer.writeInt32BE(-1, at);
  at = buffer.writeInt32BE(request.topics.length, at);
  request.topics.forEach((topic, i) => {
    at = buffer.writeInt16BE(topicNames[i].length, at);
    at += topicNames[i].copy(buffer, at);
    at = buffer.writeInt32BE(topic.partitions.length, at);
    for (const partition of topic.partitions) {
      at = buffer.writeInt32BE(partition.partition, at);
      at = buffer.writeInt32BE(-1, at); // current_leader_epoch: unknown, the broker skips the fencing check
      at = buffer.writeBigInt64BE(BigInt(partition.fetchOffset), at);
      at = buffer.writeBigInt64BE(-1n, at); // log_start_offset: only followers send one
      at = buffer.writeInt32BE(partition.partitionMaxBytes, at);
    }
  });
  at = buffer.writeInt32BE(0, at); // forgotten_topics_data: none without a session
  buffer.writeInt16BE(0, at); // rack_id "": no preferred replica by rack
  return buffer;
}

/** One partition of a Fetch response. */
export interface FetchPartitionResponse {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  readonly abortedTransactions: ReadonlyArray<{ readonly producerId: number; readonly firstOffset: number }> | null;
  /** A view (subarray, no copy) of the response's records bytes; empty Buffer when null/none. */
  readonly records: Buffer;
}

/** A decoded Fetch response: the top-level error and every partition, in the order the broker sent them. */
export interface FetchResponse {
  readonly throttleTimeMs: number;
  readonly errorCode: number;
  readonly partitions: readonly FetchPartitionResponse[];
}

/** Decodes a Fetch v11 response body (what `request` resolved with). */
export function decodeFetchResponse(body: Buffer): FetchResponse {
  return decoding('Fetch v11 response', body, (reader) => {
    const throttleTimeMs = reader.int32();
    const errorCode = reader.int16();
    reader.int32(); // session_id: always 0, no session was asked for
    const partitions: FetchPartitionResponse[] = [];
    const topicCount = reader.arrayLength();
    for (let t = 0; t < topicCount; t++) {
      const topic = reader.string();
      const partitionCount = reader.arrayLength();
      for (let p = 0; p < partitionCount; p++) {
        const partition = reader.int32();
        const partitionError = reader.int16();
        const highWatermark = reader.int64();
        const lastStableOffset = reader.int64();
        const logStartOffset = reader.int64();
        const abortedCount = reader.int32();
        let abortedTransactions: { producerId: number; firstOffset: number }[] | null = null;
        if (abortedCount >= 0) {
          abortedTransactions = [];
          for (let a = 0; a < abortedCount; a++) abortedTransactions.push({ producerId: reader.int64(), firstOffset: reader.int64() });
        }
        reader.int32(); // preferred_read_replica: -1 unless a rack_id was sent
        const records = reader.nullableBytes();
        partitions.push({
          topic,
          partition,
          errorCode: partitionError,
          highWatermark,
          lastStableOffset,
          logStartOffset,
          abortedTransactions,
          records,
        });
      }
    }
    return { throttleTimeMs, errorCode, partitions };
  });
}

/** Sends a Fetch v11 and decodes the answer; the request times out after request.maxWaitMs + timeoutMs. */
export async function fetch(connection: BrokerConnection, request: FetchRequest, timeoutMs: number): Promise<FetchResponse> {
  // The broker may hold the answer for max_wait_ms when fewer than min_bytes are ready.
  const body = await connection.request(API_KEY_FETCH, FETCH_VERSION, encodeFetchRequest(request), request.maxWaitMs + timeoutMs);
  return decodeFetchResponse(body);
}

/** Runs `decode` over `body`; a body that ends early or is otherwise malformed becomes a KafkaError naming `what`. */
function decoding<T>(what: string, body: Buffer, decode: (reader: Reader) => T): T {
  try {
    return decode(new Reader(body));
  } catch (error) {
    if (error instanceof KafkaError) throw error;
    // Deterministic for these bytes: a broker or client bug, not a passing condition.
    throw new KafkaError(`malformed ${what} (${body.length} bytes): ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

/** Reads big-endian protocol fields from a buffer, in order. Reading past the end throws. */
class Reader {
  private at = 0;

  constructor(private readonly buffer: Buffer) {}

  int16(): number {
    const value = this.buffer.readInt16BE(this.at);
    this.at += 2;
    return value;
  }

  int32(): number {
    const value = this.buffer.readInt32BE(this.at);
    this.at += 4;
    return value;
  }

  /** An int64 as a number: offsets and producer ids stay far below 2^53. */
  int64(): number {
    const value = Number(this.buffer.readBigInt64BE(this.at));
    this.at += 8;
    return value;
  }

  /** An array's int32 count; a null array (-1) reads as empty where the protocol never sends one. */
  arrayLength(): number {
    return Math.max(0, this.int32());
  }

  /** A non-nullable string (int16 length, UTF-8). */
  string(): string {
    const length = this.int16();
    if (length < 0) throw new Error(`a string at byte ${this.at - 2} is null where the protocol requires one`);
    return this.buffer.toString('utf8', this.at, this.advance(length));
  }

  /** Nullable bytes (int32 length, -1 = null) as a view into the buffer; empty for null. */
  nullableBytes(): Buffer {
    const length = this.int32();
    if (length < 0) return Buffer.alloc(0);
    const start = this.at;
    return this.buffer.subarray(start, this.advance(length));
  }

  /** Moves past `length` bytes and returns the new position; throws when they are not all there. */
  private advance(length: number): number {
    const end = this.at + length;
    if (end > this.buffer.length) {
      throw new Error(`${length} bytes at byte ${this.at} run past the end`);
    }
    this.at = end;
    return end;
  }
}
