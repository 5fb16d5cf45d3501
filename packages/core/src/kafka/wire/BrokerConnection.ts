/**
 * One TCP connection to one Kafka broker, speaking the protocol's framing: every message is an
 * int32 size followed by that many bytes; a request carries a correlation id that its response
 * echoes. Knows nothing of what the bodies mean (see `fetchProtocol.ts`).
 */
import { connect as connectSocket, type Socket } from 'node:net';
import { KafkaError } from '../../errors';

/** Where a broker listens. */
export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

/** A request sent and not yet answered. */
interface PendingRequest {
  readonly correlationId: number;
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly resolve: (body: Buffer) => void;
  readonly reject: (error: KafkaError) => void;
  readonly timer: NodeJS.Timeout;
}

/** Bytes of a frame's size prefix, and of the correlation id that opens every response. */
const INT32_BYTES = 4;
/** Request header v1 before the client id's bytes: size, api_key, api_version, correlation_id, client_id length. */
const REQUEST_HEADER_FIXED_BYTES = 4 + 2 + 2 + 4 + 2;
/** Correlation ids are int32; after the largest they start again at 0. */
const MAX_CORRELATION_ID = 0x7fffffff;

/**
 * One TCP connection to a broker: Kafka's size-prefixed frames, correlation ids, several requests
 * in flight answered in order.
 *
 * @example
 * const connection = await BrokerConnection.connect({ host: '127.0.0.1', port: 9092 }, { clientId: 'dstream', connectTimeoutMs: 10_000 });
 * const body = await connection.request(18, 0, Buffer.alloc(0), 5_000);
 * connection.close();
 */
export class BrokerConnection {
  /** Opens the connection; rejects with a retriable KafkaError naming host:port after connectTimeoutMs or on a socket error. */
  static connect(address: BrokerAddress, options: { clientId: string; connectTimeoutMs: number }): Promise<BrokerConnection> {
    const where = describeAddress(address);
    return new Promise<BrokerConnection>((resolve, reject) => {
      const socket = connectSocket({ host: address.host, port: address.port });
      const fail = (error: KafkaError) => {
        clearTimeout(timer);
        socket.removeListener('connect', onConnect);
        socket.destroy();
        reject(error);
      };
      const onError = (error: NodeJS.ErrnoException) =>
        fail(new KafkaError(`connecting to broker ${where} failed: ${error.code ?? error.message}`, { retriable: true, cause: error }));
      const onConnect = () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        resolve(new BrokerConnection(address, socket, options.clientId));
      };
      const timer = setTimeout(
        () => fail(new KafkaError(`connecting to broker ${where} timed out after ${options.connectTimeoutMs} ms`, { retriable: true })),
        options.connectTimeoutMs,
      );
      timer.unref();
      socket.once('error', onError);
      socket.once('connect', onConnect);
    });
  }

  readonly address: BrokerAddress;
  private readonly socket: Socket;
  private readonly clientId: Buffer;
  private nextCorrelationId = 0;
  /** In the order sent, which is the order the broker answers in. */
  private readonly pending: PendingRequest[] = [];
  /**
   * Received bytes not yet taken as frames. Kept as the chunks the socket delivered: a frame is
   * copied once, when all of it has arrived, never once per chunk (a 16 MiB fetch response comes
   * in hundreds of chunks).
   */
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Size of the frame being received, once its prefix was read; undefined while waiting for a prefix. */
  private frameBytes: number | undefined;
  private closedBecause: string | undefined;

  private constructor(address: BrokerAddress, socket: Socket, clientId: string) {
    this.address = { host: address.host, port: address.port };
    this.socket = socket;
    this.clientId = Buffer.from(clientId, 'utf8');
    // Requests are written whole; Nagle's algorithm would only hold back a small fetch.
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.fail(`failed: ${error.code ?? error.message}`, error));
    socket.on('end', () => this.fail('was closed by the broker'));
    socket.on('close', () => this.fail('was closed'));
  }

  /**
   * Sends a request (header v1: apiKey int16, apiVersion int16, correlationId int32, clientId
   * nullable string int16-length) with `body`, and resolves with the response bytes after the
   * correlation id (response header v0). Rejects with a retriable KafkaError after timeoutMs (and
   * closes the connection, since a late answer would shift every later one), or when the
   * connection closes.
   */
  request(apiKey: number, apiVersion: number, body: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closedBecause !== undefined) {
      return Promise.reject(
        new KafkaError(`connection to broker ${describeAddress(this.address)} ${this.closedBecause}`, { retriable: true }),
      );
    }
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = correlationId === MAX_CORRELATION_ID ? 0 : correlationId + 1;
    const header = Buffer.allocUnsafe(REQUEST_HEADER_FIXED_BYTES + this.clientId.length);
    header.writeInt32BE(header.length - INT32_BYTES + body.length, 0);
    header.writeInt16BE(apiKey, 4);
    header.writeInt16BE(apiVersion, 6);
    header.writeInt32BE(correlationId, 8);
    header.writeInt16BE(this.clientId.length, 12);
    this.clientId.copy(header, REQUEST_HEADER_FIXED_BYTES);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.timedOut(correlationId, timeoutMs), timeoutMs);
      timer.unref();
      this.pending.push({ correlationId, apiKey, apiVersion, resolve, reject, timer });
      // Corked, header and body leave in one segment without copying the body into a new buffer.
      this.socket.cork();
      this.socket.write(header);
      if (body.length > 0) this.socket.write(body);
      this.socket.uncork();
    });
  }

  /** True once closed (by `close`, the peer, or an error). */
  get isClosed(): boolean {
    return this.closedBecause !== undefined;
  }

  /** Closes the socket; pending requests reject with a retriable KafkaError. Idempotent. */
  close(): void {
    this.fail('was closed by the client');
  }

  private timedOut(correlationId: number, timeoutMs: number): void {
    const index = this.pending.findIndex((request) => request.correlationId === correlationId);
    if (index < 0) return;
    const [request] = this.pending.splice(index, 1);
    request.reject(
      new KafkaError(
        `request (api key ${request.apiKey} v${request.apiVersion}) to broker ${describeAddress(this.address)} ` +
          `got no answer within ${timeoutMs} ms`,
        { retriable: true },
      ),
    );
    // The answer may still come; every answer after it would then be taken for the wrong request.
    this.fail('was closed after a request timed out');
  }

  /** Takes in a chunk of received bytes and answers every request whose frame is now complete. */
  private receive(chunk: Buffer): void {
    if (this.closedBecause !== undefined) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    for (;;) {
      if (this.frameBytes === undefined) {
        if (this.bufferedBytes < INT32_BYTES) return;
        const size = this.take(INT32_BYTES).readInt32BE(0);
        if (size < INT32_BYTES) {
          this.fail(`was closed: the broker sent a frame of ${size} bytes, too short for a correlation id`);
          return;
        }
        if (this.pending.length === 0) {
          this.fail('was closed: the broker sent a frame while no request was waiting');
          return;
        }
        this.frameBytes = size;
      }
      if (this.bufferedBytes < this.frameBytes) return;
      const frame = this.take(this.frameBytes);
      this.frameBytes = undefined;
      if (!this.answer(frame)) return;
    }
  }

  /** Resolves the oldest pending request with `frame`; false (and the connection closed) when the ids do not match. */
  private answer(frame: Buffer): boolean {
    const correlationId = frame.readInt32BE(0);
    const request = this.pending[0];
    if (request === undefined || request.correlationId !== correlationId) {
      const expected = request === undefined ? 'none' : String(request.correlationId);
      this.fail(`was closed: the broker answered correlation id ${correlationId} where ${expected} was due`);
      return false;
    }
    this.pending.shift();
    clearTimeout(request.timer);
    request.resolve(frame.subarray(INT32_BYTES));
    return true;
  }

  /** The next `count` buffered bytes: a view when one chunk holds them all, else one copy of the pieces. */
  private take(count: number): Buffer {
    this.bufferedBytes -= count;
    const first = this.chunks[0];
    if (first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    let whole = 0;
    let covered = 0;
    while (covered < count && covered + this.chunks[whole].length <= count) covered += this.chunks[whole++].length;
    const pieces = this.chunks.splice(0, whole);
    if (covered < count) {
      const rest = this.chunks[0];
      pieces.push(rest.subarray(0, count - covered));
      this.chunks[0] = rest.subarray(count - covered);
    }
    return Buffer.concat(pieces, count);
  }

  /** Marks the connection closed for `reason`, destroys the socket and rejects every pending request. Idempotent. */
  private fail(reason: string, cause?: unknown): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = reason;
    this.socket.destroy();
    this.chunks = [];
    this.bufferedBytes = 0;
    this.frameBytes = undefined;
    const where = describeAddress(this.address);
    for (const request of this.pending.splice(0)) {
      clearTimeout(request.timer);
      request.reject(
        new KafkaError(`connection to broker ${where} ${reason} while request (api key ${request.apiKey} v${request.apiVersion}) waited for its answer`, {
          retriable: true,
          cause,
        }),
      );
    }
  }
}

function describeAddress(address: BrokerAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
