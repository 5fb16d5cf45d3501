// Fetch v11 and ApiVersions v0 bytes, checked field by field against a hand-written counterpart.
import { createServer, type Server, type Socket } from 'node:net';
import { KafkaError } from '../../errors';
import { BrokerConnection } from './BrokerConnection';
import {
  API_KEY_API_VERSIONS,
  API_KEY_FETCH,
  FETCH_VERSION,
  decodeFetchResponse,
  encodeFetchRequest,
  fetch,
  requestApiVersions,
} from './fetchProtocol';
import type { FetchRequest } from './fetchProtocol';
import { ProtocolReader as FieldReader, ProtocolWriter as Writer } from './protocolTestKit';

interface PartitionAnswer {
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  readonly aborted: ReadonlyArray<{ producerId: number; firstOffset: number }> | null;
  readonly records: Buffer | null;
}

/** A Fetch v11 response body. */
function fetchResponseBody(
  topics: ReadonlyArray<{ topic: string; partitions: readonly PartitionAnswer[] }>,
  top: { throttleTimeMs?: number; errorCode?: number } = {},
): Buffer {
  const writer = new Writer().int32(top.throttleTimeMs ?? 0).int16(top.errorCode ?? 0).int32(0).int32(topics.length);
  for (const { topic, partitions } of topics) {
    writer.string(topic).int32(partitions.length);
    for (const p of partitions) {
      writer.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset).int64(p.logStartOffset);
      writer.int32(p.aborted === null ? -1 : p.aborted.length);
      for (const a of p.aborted ?? []) writer.int64(a.producerId).int64(a.firstOffset);
      writer.int32(-1).nullableBytes(p.records);
    }
  }
  return writer.build();
}

const REQUEST: FetchRequest = {
  maxWaitMs: 500,
  minBytes: 1,
  maxBytes: 52_428_800,
  isReadCommitted: true,
  topics: [
    {
      topic: 'orders',
      partitions: [
        { partition: 0, fetchOffset: 0, partitionMaxBytes: 1_048_576 },
        { partition: 3, fetchOffset: 2 ** 40 + 7, partitionMaxBytes: 65_536 },
      ],
    },
    { topic: 'zahlungsbestätigungen', partitions: [{ partition: 1, fetchOffset: 42, partitionMaxBytes: 10 }] },
  ],
};

describe('encodeFetchRequest', () => {
  it('writes every Fetch v11 field in order, as a consumer without a fetch session', () => {
    const reader = new FieldReader(encodeFetchRequest(REQUEST));
    expect([reader.int32(), reader.int32(), reader.int32(), reader.int32(), reader.int8()]).toEqual([-1, 500, 1, 52_428_800, 1]);
    expect([reader.int32(), reader.int32()]).toEqual([0, -1]);
    const topics = [];
    for (let t = reader.int32(); t > 0; t--) {
      const topic = reader.string();
      const partitions = [];
      for (let p = reader.int32(); p > 0; p--) {
        partitions.push({
          partition: reader.int32(),
          currentLeaderEpoch: reader.int32(),
          fetchOffset: reader.int64(),
          logStartOffset: reader.int64(),
          partitionMaxBytes: reader.int32(),
        });
      }
      topics.push({ topic, partitions });
    }
    expect(topics).toEqual([
      {
        topic: 'orders',
        partitions: [
          { partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1_048_576 },
          { partition: 3, currentLeaderEpoch: -1, fetchOffset: 2 ** 40 + 7, logStartOffset: -1, partitionMaxBytes: 65_536 },
        ],
      },
      {
        topic: 'zahlungsbestätigungen',
        partitions: [{ partition: 1, currentLeaderEpoch: -1, fetchOffset: 42, logStartOffset: -1, partitionMaxBytes: 10 }],
      },
    ]);
    expect(reader.int32()).toBe(0); // forgotten_topics_data
    expect(reader.string()).toBe(''); // rack_id
    expect(reader.isAtEnd).toBe(true);
  });

  it('writes isolation level 0 for read_uncommitted and an empty topic array when asked for nothing', () => {
    const reader = new FieldReader(encodeFetchRequest({ ...REQUEST, isReadCommitted: false, topics: [] }));
    reader.int32();
    reader.int32();
    reader.int32();
    reader.int32();
    expect(reader.int8()).toBe(0);
    reader.int32();
    reader.int32();
    expect([reader.int32(), reader.int32(), reader.string()]).toEqual([0, 0, '']);
    expect(reader.isAtEnd).toBe(true);
  });
});

describe('decodeFetchResponse', () => {
  it('decodes several topics and partitions with their offsets, errors, aborted transactions and records', () => {
    const body = fetchResponseBody(
      [
        {
          topic: 'orders',
          partitions: [
            {
              partition: 0,
              errorCode: 0,
              highWatermark: 120,
              lastStableOffset: 100,
              logStartOffset: 5,
              aborted: [
                { producerId: 4001, firstOffset: 17 },
                { producerId: 2 ** 50, firstOffset: 90 },
              ],
              records: Buffer.from('batch bytes of partition 0'),
            },
            { partition: 1, errorCode: 1, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, aborted: null, records: null },
          ],
        },
        {
          topic: 'payments',
          partitions: [
            { partition: 7, errorCode: 0, highWatermark: 2 ** 40, lastStableOffset: 2 ** 40, logStartOffset: 0, aborted: [], records: Buffer.alloc(0) },
          ],
        },
      ],
      { throttleTimeMs: 250, errorCode: 0 },
    );
    const response = decodeFetchResponse(body);
    expect(response.throttleTimeMs).toBe(250);
    expect(response.errorCode).toBe(0);
    expect(response.partitions.map(({ records, ...rest }) => ({ ...rest, records: records.toString() }))).toEqual([
      {
        topic: 'orders',
        partition: 0,
        errorCode: 0,
        highWatermark: 120,
        lastStableOffset: 100,
        logStartOffset: 5,
        abortedTransactions: [
          { producerId: 4001, firstOffset: 17 },
          { producerId: 2 ** 50, firstOffset: 90 },
        ],
        records: 'batch bytes of partition 0',
      },
      { topic: 'orders', partition: 1, errorCode: 1, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null, records: '' },
      { topic: 'payments', partition: 7, errorCode: 0, highWatermark: 2 ** 40, lastStableOffset: 2 ** 40, logStartOffset: 0, abortedTransactions: [], records: '' },
    ]);
  });

  it('hands out records as a view into the response, not a copy', () => {
    const body = fetchResponseBody([
      {
        topic: 't',
        partitions: [{ partition: 0, errorCode: 0, highWatermark: 1, lastStableOffset: 1, logStartOffset: 0, aborted: null, records: Buffer.from('abc') }],
      },
    ]);
    const { records } = decodeFetchResponse(body).partitions[0];
    expect(records.buffer).toBe(body.buffer);
    expect(records.byteOffset).toBe(body.byteOffset + body.length - 3);
    body[body.length - 1] = 'z'.charCodeAt(0);
    expect(records.toString()).toBe('abz');
  });

  it('decodes a top-level error with no partitions', () => {
    expect(decodeFetchResponse(fetchResponseBody([], { errorCode: 71 }))).toEqual({ throttleTimeMs: 0, errorCode: 71, partitions: [] });
  });

  it('rejects a truncated response with a KafkaError that says so', () => {
    const body = fetchResponseBody([
      {
        topic: 't',
        partitions: [{ partition: 0, errorCode: 0, highWatermark: 1, lastStableOffset: 1, logStartOffset: 0, aborted: null, records: Buffer.from('abcdef') }],
      },
    ]);
    for (const cut of [3, 20, body.length - 1]) {
      const error = (() => {
        try {
          decodeFetchResponse(body.subarray(0, cut));
          return undefined;
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(KafkaError);
      expect((error as KafkaError).message).toMatch(new RegExp(`^malformed Fetch v11 response \\(${cut} bytes\\)`));
    }
  });
});

describe('over a connection', () => {
  let server: Server | undefined;
  let connection: BrokerConnection | undefined;
  const sockets = new Set<Socket>();

  afterEach(async () => {
    jest.useRealTimers();
    connection?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    connection = undefined;
  });

  /** A loopback broker answering each request with `answer(apiKey, apiVersion, body)`, or not at all when it returns undefined. */
  async function connectToBroker(answer: (apiKey: number, apiVersion: number, body: Buffer) => Buffer | undefined): Promise<BrokerConnection> {
    server = createServer((socket) => {
      sockets.add(socket);
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
          const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
          buffered = buffered.subarray(4 + frame.length);
          const body = answer(frame.readInt16BE(0), frame.readInt16BE(2), frame.subarray(10 + frame.readInt16BE(8)));
          if (body === undefined) continue;
          socket.write(new Writer().int32(4 + body.length).int32(frame.readInt32BE(4)).build());
          socket.write(body);
        }
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    connection = await BrokerConnection.connect({ host: '127.0.0.1', port }, { clientId: 'dstream', connectTimeoutMs: 5_000 });
    return connection;
  }

  it('reads the version range of every API the broker lists in ApiVersions v0', async () => {
    const asked: Array<[number, number, number]> = [];
    const broker = await connectToBroker((apiKey, apiVersion, body) => {
      asked.push([apiKey, apiVersion, body.length]);
      return new Writer().int16(0).int32(3).int16(0).int16(0).int16(11).int16(1).int16(4).int16(17).int16(18).int16(0).int16(4).build();
    });
    const versions = await requestApiVersions(broker, 5_000);
    expect(asked).toEqual([[API_KEY_API_VERSIONS, 0, 0]]);
    expect([...versions]).toEqual([
      [0, { min: 0, max: 11 }],
      [API_KEY_FETCH, { min: 4, max: 17 }],
      [API_KEY_API_VERSIONS, { min: 0, max: 4 }],
    ]);
  });

  it('rejects an ApiVersions answer carrying an error code', async () => {
    const broker = await connectToBroker(() => new Writer().int16(35).int32(0).build());
    const error = await requestApiVersions(broker, 5_000).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(KafkaError);
    expect((error as KafkaError).code).toBe(35);
    expect((error as KafkaError).message).toContain('answered ApiVersions v0 with error code 35');
  });

  it('sends the encoded Fetch v11 request and decodes the answer', async () => {
    const answer = fetchResponseBody([
      {
        topic: 'orders',
        partitions: [{ partition: 0, errorCode: 0, highWatermark: 9, lastStableOffset: 9, logStartOffset: 0, aborted: null, records: Buffer.from('r') }],
      },
    ]);
    const sent: Array<{ apiKey: number; apiVersion: number; body: Buffer }> = [];
    const broker = await connectToBroker((apiKey, apiVersion, body) => {
      sent.push({ apiKey, apiVersion, body: Buffer.from(body) });
      return answer;
    });
    const response = await fetch(broker, REQUEST, 5_000);
    expect(sent).toEqual([{ apiKey: API_KEY_FETCH, apiVersion: FETCH_VERSION, body: encodeFetchRequest(REQUEST) }]);
    expect(response.partitions).toHaveLength(1);
    expect(response.partitions[0]).toMatchObject({ topic: 'orders', partition: 0, highWatermark: 9 });
    expect(response.partitions[0].records.toString()).toBe('r');
  });

  it('gives a fetch maxWaitMs on top of its timeout before it fails', async () => {
    const broker = await connectToBroker(() => undefined);
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
    const outcome = fetch(broker, REQUEST, 100).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    jest.advanceTimersByTime(REQUEST.maxWaitMs + 99);
    expect(broker.isClosed).toBe(false);
    jest.advanceTimersByTime(1);
    expect(broker.isClosed).toBe(true);
    expect(await outcome).toBeInstanceOf(KafkaError);
    expect(((await outcome) as KafkaError).message).toContain(`got no answer within ${REQUEST.maxWaitMs + 100} ms`);
  });
});
