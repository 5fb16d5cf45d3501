// BrokerConnection against a loopback server that plays the broker: framing, ordering, failures.
import { createServer, type Server, type Socket } from 'node:net';
import { KafkaError } from '../../errors';
import { BrokerConnection, type BrokerAddress } from './BrokerConnection';

/** A request frame as the server received it. */
interface ReceivedRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  readonly body: Buffer;
}

/** A listening server on 127.0.0.1 port 0, and the sockets it accepted (destroyed by `close`). */
interface FakeBroker {
  readonly address: BrokerAddress;
  close(): Promise<void>;
}

const OPTIONS = { clientId: 'dstream', connectTimeoutMs: 5_000 };

let brokers: FakeBroker[] = [];
let connections: BrokerConnection[] = [];

afterEach(async () => {
  jest.useRealTimers();
  for (const connection of connections) connection.close();
  await Promise.all(brokers.map((broker) => broker.close()));
  brokers = [];
  connections = [];
});

async function startBroker(onConnection: (socket: Socket) => void): Promise<FakeBroker> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const broker: FakeBroker = {
    address: { host: '127.0.0.1', port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  brokers.push(broker);
  return broker;
}

/** Calls `handle` for every complete request frame the socket receives. */
function onRequests(socket: Socket, handle: (request: ReceivedRequest) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
      buffered = buffered.subarray(4 + frame.length);
      const clientIdLength = frame.readInt16BE(8);
      const clientIdEnd = 10 + Math.max(0, clientIdLength);
      handle({
        apiKey: frame.readInt16BE(0),
        apiVersion: frame.readInt16BE(2),
        correlationId: frame.readInt32BE(4),
        clientId: clientIdLength < 0 ? null : frame.toString('utf8', 10, clientIdEnd),
        body: Buffer.from(frame.subarray(clientIdEnd)),
      });
    }
  });
}

/** A response frame: size, correlation id, body. */
function responseFrame(correlationId: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(4 + body.length, 0);
  head.writeInt32BE(correlationId, 4);
  return Buffer.concat([head, body]);
}

/** Writes `bytes` in pieces of the given sizes (cycling), each in its own turn of the event loop. */
async function writeInPieces(socket: Socket, bytes: Buffer, sizes: readonly number[]): Promise<void> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const end = Math.min(bytes.length, at + sizes[i % sizes.length]);
    socket.write(bytes.subarray(at, end));
    at = end;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

async function connectTo(broker: FakeBroker): Promise<BrokerConnection> {
  const connection = await BrokerConnection.connect(broker.address, OPTIONS);
  connections.push(connection);
  return connection;
}

/** The error a promise rejected with; fails the test when it resolved. */
async function rejectionOf(promise: Promise<unknown>): Promise<KafkaError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(KafkaError);
  return outcome as KafkaError;
}

describe('BrokerConnection', () => {
  it('sends a v1 request header with the client id and the body, and resolves with the bytes after the correlation id', async () => {
    const received: ReceivedRequest[] = [];
    const broker = await startBroker((socket) =>
      onRequests(socket, (request) => {
        received.push(request);
        socket.write(responseFrame(request.correlationId, Buffer.from('answer')));
      }),
    );
    const connection = await connectTo(broker);
    expect(connection.address).toEqual(broker.address);
    const answer = await connection.request(18, 3, Buffer.from([1, 2, 3]), 5_000);
    expect(answer.toString()).toBe('answer');
    expect(received).toEqual([{ apiKey: 18, apiVersion: 3, correlationId: 0, clientId: 'dstream', body: Buffer.from([1, 2, 3]) }]);
    await connection.request(1, 11, Buffer.alloc(0), 5_000);
    expect(received[1]).toMatchObject({ apiKey: 1, apiVersion: 11, correlationId: 1, body: Buffer.alloc(0) });
    expect(connection.isClosed).toBe(false);
  });

  it('assembles a response that arrives one byte at a time', async () => {
    const body = Buffer.from('a response in 15 chunks');
    const broker = await startBroker((socket) =>
      onRequests(socket, (request) => void writeInPieces(socket, responseFrame(request.correlationId, body), [1])),
    );
    const connection = await connectTo(broker);
    expect((await connection.request(3, 0, Buffer.from('x'), 5_000)).toString()).toBe(body.toString());
  });

  it('answers two requests in flight in the order sent, whatever the chunks their frames arrive in', async () => {
    const broker = await startBroker((socket) => {
      const seen: ReceivedRequest[] = [];
      onRequests(socket, (request) => {
        seen.push(request);
        if (seen.length < 2) return;
        // Both frames in one stream, cut at sizes that split the size prefix, the correlation id and the body.
        const frames = Buffer.concat(seen.map((r) => responseFrame(r.correlationId, Buffer.from(`answer to ${r.body.toString()}`))));
        void writeInPieces(socket, frames, [3, 7, 2, 11]);
      });
    });
    const connection = await connectTo(broker);
    const first = connection.request(1, 11, Buffer.from('first'), 5_000);
    const second = connection.request(1, 11, Buffer.from('second'), 5_000);
    expect((await first).toString()).toBe('answer to first');
    expect((await second).toString()).toBe('answer to second');
  });

  it('copies a 16 MiB response arriving in 64 KiB chunks once, not once per chunk', async () => {
    const size = 16 * 1024 * 1024;
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) body.writeUInt32BE(i, i);
    let concatenatedBytes = 0;
    const broker = await startBroker((socket) =>
      onRequests(socket, (request) => {
        const frame = responseFrame(request.correlationId, body);
        // Counted only from here: the server's own request parsing concatenates too.
        const concat = Buffer.concat;
        jest.spyOn(Buffer, 'concat').mockImplementation((list, totalLength) => {
          concatenatedBytes += totalLength ?? list.reduce((sum, piece) => sum + piece.length, 0);
          return concat(list, totalLength);
        });
        void writeInPieces(socket, frame, [64 * 1024]);
      }),
    );
    const connection = await connectTo(broker);
    try {
      const answer = await connection.request(1, 11, Buffer.alloc(0), 30_000);
      expect(answer.length).toBe(size);
      expect(answer.equals(body)).toBe(true);
    } finally {
      jest.restoreAllMocks();
    }
    // One copy of the frame, plus at most a few bytes of size prefix.
    expect(concatenatedBytes).toBeGreaterThanOrEqual(size);
    expect(concatenatedBytes).toBeLessThanOrEqual(size + 8);
  });

  it('closes the connection when an answer carries another correlation id than the one due', async () => {
    const broker = await startBroker((socket) =>
      onRequests(socket, (request) => socket.write(responseFrame(request.correlationId + 5, Buffer.from('stray')))),
    );
    const connection = await connectTo(broker);
    const error = await rejectionOf(connection.request(1, 11, Buffer.alloc(0), 5_000));
    expect(error.retriable).toBe(true);
    expect(error.message).toContain('answered correlation id 5 where 0 was due');
    expect(connection.isClosed).toBe(true);
  });

  it('rejects every pending request naming the broker and reports closed when the broker closes the connection', async () => {
    let requests = 0;
    const broker = await startBroker((socket) =>
      onRequests(socket, () => {
        if (++requests === 2) socket.end();
      }),
    );
    const connection = await connectTo(broker);
    const errors = await Promise.all([
      rejectionOf(connection.request(1, 11, Buffer.alloc(0), 5_000)),
      rejectionOf(connection.request(1, 11, Buffer.alloc(0), 5_000)),
    ]);
    for (const error of errors) {
      expect(error.retriable).toBe(true);
      expect(error.message).toContain(`connection to broker 127.0.0.1:${broker.address.port} was closed by the broker`);
    }
    expect(connection.isClosed).toBe(true);
    const later = await rejectionOf(connection.request(1, 11, Buffer.alloc(0), 5_000));
    expect(later.retriable).toBe(true);
    expect(later.message).toContain('was closed by the broker');
  });

  it('rejects a request unanswered after its timeout, and closes the connection with every later request', async () => {
    const broker = await startBroker(() => undefined);
    const connection = await connectTo(broker);
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
    const first = rejectionOf(connection.request(1, 11, Buffer.alloc(0), 50));
    const second = rejectionOf(connection.request(1, 11, Buffer.alloc(0), 5_000));
    jest.advanceTimersByTime(49);
    expect(connection.isClosed).toBe(false);
    jest.advanceTimersByTime(1);
    expect(connection.isClosed).toBe(true);
    const timedOut = await first;
    expect(timedOut.retriable).toBe(true);
    expect(timedOut.message).toBe(
      `request (api key 1 v11) to broker 127.0.0.1:${broker.address.port} got no answer within 50 ms`,
    );
    expect((await second).message).toContain('was closed after a request timed out');
  });

  it('rejects pending requests on close, and closing again does nothing', async () => {
    const broker = await startBroker(() => undefined);
    const connection = await connectTo(broker);
    const pending = rejectionOf(connection.request(1, 11, Buffer.alloc(0), 5_000));
    connection.close();
    connection.close();
    expect(connection.isClosed).toBe(true);
    const error = await pending;
    expect(error.retriable).toBe(true);
    expect(error.message).toContain('was closed by the client');
  });

  it('rejects connecting to a port nobody listens on with a retriable KafkaError naming the address', async () => {
    const broker = await startBroker(() => undefined);
    await broker.close();
    const error = await rejectionOf(BrokerConnection.connect(broker.address, OPTIONS));
    expect(error.retriable).toBe(true);
    expect(error.message).toBe(`connecting to broker 127.0.0.1:${broker.address.port} failed: ECONNREFUSED`);
  });

  it('rejects connecting once connectTimeoutMs passed without a connection', async () => {
    const broker = await startBroker(() => undefined);
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
    const connecting = rejectionOf(BrokerConnection.connect(broker.address, { clientId: 'dstream', connectTimeoutMs: 100 }));
    // The socket cannot connect before the event loop polls; the timer fires first.
    jest.advanceTimersByTime(100);
    const error = await connecting;
    expect(error.retriable).toBe(true);
    expect(error.message).toBe(`connecting to broker 127.0.0.1:${broker.address.port} timed out after 100 ms`);
  });
});
