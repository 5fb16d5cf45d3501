/**
 * A Kafka broker on loopback for tests of the fetch path: answers ApiVersions v0 and Fetch v11
 * (https://kafka.apache.org/protocol) from in-memory partition logs the test writes, logs every
 * Fetch request it receives, and can drop its connections (a restart) or hold its answers (a
 * response racing a seek).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ProtocolReader as Reader, ProtocolWriter as Writer } from './protocolTestKit';

/** One partition of a Fetch request as the broker received it. */
export interface ReceivedFetchPartition {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly partitionMaxBytes: number;
}

/** A Fetch request as the broker received it. */
export interface ReceivedFetch {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly isolationLevel: number;
  readonly partitions: readonly ReceivedFetchPartition[];
}

/** What a partition answers besides its batches; each field left out keeps its value. */
export interface FakePartitionState {
  /** Defaults to the offset after the last appended batch. */
  readonly highWatermark?: number;
  /** undefined: the high watermark (no open transaction). */
  readonly lastStableOffset?: number | undefined;
  readonly logStartOffset?: number;
  readonly abortedTransactions?: ReadonlyArray<{ readonly producerId: number; readonly firstOffset: number }>;
  /** Answered instead of records while not 0 (with -1 offsets, as Kafka answers an error). */
  readonly errorCode?: number;
}

/** The versions of the Fetch API the broker lists in ApiVersions. */
export interface FakeBrokerOptions {
  readonly fetchVersions?: { readonly min: number; readonly max: number };
}

interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly bytes: Buffer;
}

interface PartitionLog {
  readonly batches: StoredBatch[];
  highWatermark: number;
  lastStableOffset: number | undefined;
  logStartOffset: number;
  abortedTransactions: ReadonlyArray<{ readonly producerId: number; readonly firstOffset: number }>;
  errorCode: number;
  /** Record bytes written to clients (answers to closed sockets not counted). */
  bytesSent: number;
}

const API_KEY_FETCH = 1;
const API_KEY_API_VERSIONS = 18;
/** A Fetch that finds no data is answered empty after this long at most (or max_wait_ms if shorter), so a client does not spin. */
const EMPTY_ANSWER_DELAY_MS = 20;

/** A loopback Kafka broker for Fetch tests; see the file comment. */
export class FakeBroker {
  /** Listens on 127.0.0.1, on a free port. */
  static async start(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
    const broker = new FakeBroker(options);
    await new Promise<void>((resolve) => broker.server.listen(0, '127.0.0.1', resolve));
    return broker;
  }

  /** Every Fetch request received, oldest first. */
  readonly fetches: ReceivedFetch[] = [];
  /** How many connections were accepted. */
  connectionCount = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly logs = new Map<string, PartitionLog>();
  private readonly fetchVersions: { readonly min: number; readonly max: number };
  /** Fetch answers wait for it before they are written. */
  private gate: Promise<void> = Promise.resolve();

  private constructor(options: FakeBrokerOptions) {
    this.fetchVersions = options.fetchVersions ?? { min: 4, max: 17 };
    this.server = createServer((socket) => this.serve(socket));
  }

  /** The port it listens on. */
  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Appends a record batch (as `encodeRecordBatch` makes it) and moves the high watermark past it. */
  append(topic: string, partition: number, batch: Buffer): void {
    const log = this.log(topic, partition);
    const baseOffset = Number(batch.readBigInt64BE(0));
    const lastOffset = baseOffset + batch.readInt32BE(23);
    log.batches.push({ baseOffset, lastOffset, bytes: batch });
    log.highWatermark = Math.max(log.highWatermark, lastOffset + 1);
  }

  /** Changes what the partition answers besides its batches. */
  set(topic: string, partition: number, state: FakePartitionState): void {
    const log = this.log(topic, partition);
    if (state.highWatermark !== undefined) log.highWatermark = state.highWatermark;
    if ('lastStableOffset' in state) log.lastStableOffset = state.lastStableOffset;
    if (state.logStartOffset !== undefined) log.logStartOffset = state.logStartOffset;
    if (state.abortedTransactions !== undefined) log.abortedTransactions = state.abortedTransactions;
    if (state.errorCode !== undefined) log.errorCode = state.errorCode;
  }

  /** Record bytes of the partition written to clients so far. */
  bytesSent(topic: string, partition: number): number {
    return this.log(topic, partition).bytesSent;
  }

  /** The partition's entries in the Fetch requests from index `since` of `fetches` on. */
  fetchesOf(topic: string, partition: number, since = 0): ReceivedFetchPartition[] {
    return this.fetches.slice(since).flatMap((fetch) => fetch.partitions.filter((p) => p.topic === topic && p.partition === partition));
  }

  /** Closes every open connection, as a broker restart would; new connections are accepted. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Holds every Fetch answer not yet written until the returned function is called (ApiVersions still answered). */
  hold(): () => void {
    let release = (): void => undefined;
    this.gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.gate = Promise.resolve();
      release();
    };
  }

  /** Closes every connection and stops listening. */
  close(): Promise<void> {
    this.dropConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private log(topic: string, partition: number): PartitionLog {
    const key = `${topic}:${partition}`;
    let log = this.logs.get(key);
    if (log === undefined) {
      log = { batches: [], highWatermark: 0, lastStableOffset: undefined, logStartOffset: 0, abortedTransactions: [], errorCode: 0, bytesSent: 0 };
      this.logs.set(key, log);
    }
    return log;
  }

  /** Reads request frames off a socket and answers them one at a time, in order, as a broker does. */
  private serve(socket: Socket): void {
    this.connectionCount++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // A write racing a destroy reports an error the test does not care about.
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let answered = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + frame.length);
        // A request the fake cannot read ends the connection, as Kafka ends one it cannot parse.
        answered = answered.then(() => this.answer(socket, frame)).catch(() => void socket.destroy());
      }
    });
  }

  /** Answers one request frame: header v1 (api_key, api_version, correlation_id, client_id), then the body. */
  private async answer(socket: Socket, frame: Buffer): Promise<void> {
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const clientIdLength = frame.readInt16BE(8);
    const body = frame.subarray(10 + Math.max(0, clientIdLength));
    let answer: { body: Buffer; commit: () => void };
    if (apiKey === API_KEY_API_VERSIONS && apiVersion === 0) {
      const versions = new Writer().int16(0).int32(2);
      versions.int16(API_KEY_FETCH).int16(this.fetchVersions.min).int16(this.fetchVersions.max);
      versions.int16(API_KEY_API_VERSIONS).int16(0).int16(3);
      answer = { body: versions.build(), commit: () => undefined };
    } else if (apiKey === API_KEY_FETCH && apiVersion === 11) {
      answer = await this.answerFetch(body);
      await this.gate;
    } else {
      // Kafka closes the connection on a request it cannot parse.
      socket.destroy();
      return;
    }
    if (socket.destroyed) return;
    // One write: a header written apart would wait out Nagle's algorithm and the client's delayed ACK (~40 ms).
    socket.write(Buffer.concat([new Writer().int32(4 + answer.body.length).int32(correlationId).build(), answer.body]));
    answer.commit();
  }

  /** Logs a Fetch v11 request and builds its answer, after a short wait when no partition has anything to say. */
  private async answerFetch(body: Buffer): Promise<{ body: Buffer; commit: () => void }> {
    const request = decodeFetchRequest(body);
    this.fetches.push(request);
    let answer = this.fetchAnswer(request);
    if (!answer.hasNews) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(request.maxWaitMs, EMPTY_ANSWER_DELAY_MS)));
      answer = this.fetchAnswer(request);
    }
    return answer;
  }

  /**
   * Batches whose last offset is at or past the fetch offset and below the high watermark (the
   * last stable offset under read_committed), whole, up to partition_max_bytes and max_bytes, at
   * least one batch per response.
   */
  private fetchAnswer(request: ReceivedFetch): { body: Buffer; hasNews: boolean; commit: () => void } {
    const isReadCommitted = request.isolationLevel === 1;
    const byTopic = new Map<string, ReceivedFetchPartition[]>();
    for (const p of request.partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p]);
    const writer = new Writer().int32(0).int16(0).int32(0).int32(byTopic.size);
    const sent: Array<{ log: PartitionLog; bytes: number }> = [];
    let responseBytes = 0;
    let hasNews = false;
    for (const [topic, partitions] of byTopic) {
      writer.string(topic).int32(partitions.length);
      for (const { partition, fetchOffset, partitionMaxBytes } of partitions) {
        const log = this.log(topic, partition);
        writer.int32(partition).int16(log.errorCode);
        if (log.errorCode !== 0) {
          hasNews = true;
          writer.int64(-1).int64(-1).int64(-1).int32(-1).int32(-1).int32(-1);
          continue;
        }
        const lastStableOffset = log.lastStableOffset ?? log.highWatermark;
        const upTo = isReadCommitted ? lastStableOffset : log.highWatermark;
        const records: Buffer[] = [];
        let bytes = 0;
        for (const batch of log.batches) {
          if (batch.lastOffset < fetchOffset || batch.lastOffset >= upTo) continue;
          const fits = bytes + batch.bytes.length <= partitionMaxBytes && responseBytes + batch.bytes.length <= request.maxBytes;
          if (!fits && !(records.length === 0 && responseBytes === 0)) break;
          records.push(batch.bytes);
          bytes += batch.bytes.length;
          responseBytes += batch.bytes.length;
        }
        writer.int64(log.highWatermark).int64(lastStableOffset).int64(log.logStartOffset);
        if (isReadCommitted) {
          writer.int32(log.abortedTransactions.length);
          for (const aborted of log.abortedTransactions) writer.int64(aborted.producerId).int64(aborted.firstOffset);
        } else {
          writer.int32(-1);
        }
        writer.int32(-1); // preferred_read_replica
        writer.bytes(Buffer.concat(records));
        if (bytes > 0) hasNews = true;
        sent.push({ log, bytes });
      }
    }
    return { body: writer.build(), hasNews, commit: () => sent.forEach(({ log, bytes }) => (log.bytesSent += bytes)) };
  }
}

/** Decodes a Fetch v11 request body, field by field as the protocol guide lists them. */
function decodeFetchRequest(body: Buffer): ReceivedFetch {
  const reader = new Reader(body);
  reader.int32(); // replica_id
  const maxWaitMs = reader.int32();
  const minBytes = reader.int32();
  const maxBytes = reader.int32();
  const isolationLevel = reader.int8();
  reader.int32(); // session_id
  reader.int32(); // session_epoch
  const partitions: ReceivedFetchPartition[] = [];
  for (let t = reader.int32(); t > 0; t--) {
    const topic = reader.string();
    for (let p = reader.int32(); p > 0; p--) {
      const partition = reader.int32();
      reader.int32(); // current_leader_epoch
      const fetchOffset = reader.int64();
      reader.int64(); // log_start_offset
      partitions.push({ topic, partition, fetchOffset, partitionMaxBytes: reader.int32() });
    }
  }
  return { maxWaitMs, minBytes, maxBytes, isolationLevel, partitions };
}
