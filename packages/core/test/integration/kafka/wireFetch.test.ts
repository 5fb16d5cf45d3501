// The Fetch wire path against the real broker: ApiVersions, Fetch v11 bytes and partition errors.
import { createRecordProducer } from '@dstream/core/internal';
import { createTopic, hostPortOf, produce, requireService, services, uniqueName } from '@dstream/test-utils';
import { BrokerConnection } from '../../../src/kafka/wire/BrokerConnection';
import { API_KEY_FETCH, FETCH_VERSION, fetch, requestApiVersions } from '../../../src/kafka/wire/fetchProtocol';
import type { FetchPartitionResponse, FetchRequest } from '../../../src/kafka/wire/fetchProtocol';

/** Kafka's error codes the checks below expect. */
const OFFSET_OUT_OF_RANGE = 1;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
/** Keyed records with headers produced to partition 1 on top of the plain ones. */
const KEYED_RECORDS = 5;
const PLAIN_RECORDS = 10;

/** A record batch header (magic 2) as the log stores it; only the fields checked here. */
interface BatchHeader {
  readonly baseOffset: number;
  readonly magic: number;
  readonly lastOffsetDelta: number;
  readonly recordCount: number;
}

/** Walks the record batches in a partition's records bytes, reading each header by its fixed offsets. */
function batchHeaders(records: Buffer): BatchHeader[] {
  const headers: BatchHeader[] = [];
  // baseOffset int64 @0, batchLength int32 @8, partitionLeaderEpoch @12, magic int8 @16, crc @17,
  // attributes int16 @21, lastOffsetDelta int32 @23, ..., recordCount int32 @57.
  for (let at = 0; at + 61 <= records.length; at += 12 + records.readInt32BE(at + 8)) {
    headers.push({
      baseOffset: Number(records.readBigInt64BE(at)),
      magic: records.readInt8(at + 16),
      lastOffsetDelta: records.readInt32BE(at + 23),
      recordCount: records.readInt32BE(at + 57),
    });
  }
  return headers;
}

function request(topic: string, offsets: ReadonlyArray<[partition: number, offset: number]>, isReadCommitted = false): FetchRequest {
  return {
    maxWaitMs: 100,
    minBytes: 1,
    maxBytes: 4 * 1024 * 1024,
    isReadCommitted,
    topics: [{ topic, partitions: offsets.map(([partition, fetchOffset]) => ({ partition, fetchOffset, partitionMaxBytes: 1024 * 1024 })) }],
  };
}

function partitionOf(partitions: readonly FetchPartitionResponse[], partition: number): FetchPartitionResponse {
  const found = partitions.find((p) => p.partition === partition);
  if (found === undefined) throw new Error(`no answer for partition ${partition} in ${JSON.stringify(partitions.map((p) => p.partition))}`);
  return found;
}

describe('Fetch over a BrokerConnection', () => {
  const topic = uniqueName('wire-fetch');
  let connection: BrokerConnection;

  beforeAll(async () => {
    await requireService('Kafka', services.kafkaBrokers);
    await createTopic(topic, 2);
    await produce(topic, [0, 1], PLAIN_RECORDS);
    const producer = createRecordProducer({ 'bootstrap.servers': services.kafkaBrokers });
    await producer.connect(10_000);
    try {
      for (let i = 0; i < KEYED_RECORDS; i++) {
        await producer.send({
          topic,
          partition: 1,
          key: `key-${i}`,
          value: `value-${i}`,
          headers: [{ 'trace-id': `trace-${i}` }],
        });
      }
    } finally {
      await producer.disconnect();
    }
    connection = await BrokerConnection.connect(hostPortOf(services.kafkaBrokers), { clientId: 'dstream', connectTimeoutMs: 10_000 });
  });

  afterAll(() => connection?.close());

  it('learns from ApiVersions that the broker serves Fetch v11', async () => {
    const versions = await requestApiVersions(connection, 10_000);
    const fetchVersions = versions.get(API_KEY_FETCH);
    expect(fetchVersions).toBeDefined();
    expect(fetchVersions!.min).toBeLessThanOrEqual(FETCH_VERSION);
    expect(fetchVersions!.max).toBeGreaterThanOrEqual(FETCH_VERSION);
    expect(versions.get(18)!.min).toBe(0);
  });

  it('fetches both partitions from offset 0 with their watermarks and every record batch', async () => {
    const response = await fetch(connection, request(topic, [[0, 0], [1, 0]]), 10_000);
    expect(response.errorCode).toBe(0);
    expect(response.partitions.map((p) => p.topic)).toEqual([topic, topic]);
    const expectedEnds = new Map([
      [0, PLAIN_RECORDS],
      [1, PLAIN_RECORDS + KEYED_RECORDS],
    ]);
    for (const [partition, end] of expectedEnds) {
      const answer = partitionOf(response.partitions, partition);
      expect(answer.errorCode).toBe(0);
      expect(answer.highWatermark).toBe(end);
      expect(answer.lastStableOffset).toBe(end);
      expect(answer.logStartOffset).toBe(0);
      expect(answer.abortedTransactions).toBeNull();
      expect(answer.records.length).toBeGreaterThan(0);
      const batches = batchHeaders(answer.records);
      expect(batches[0].baseOffset).toBe(0);
      expect(batches.every((batch) => batch.magic === 2)).toBe(true);
      // Batches follow each other without gaps up to the high watermark.
      const last = batches[batches.length - 1];
      expect(last.baseOffset + last.lastOffsetDelta + 1).toBe(end);
      expect(batches.reduce((sum, batch) => sum + batch.recordCount, 0)).toBe(end);
    }
    // Uncompressed, keys, values and header keys appear as they were produced.
    const keyed = partitionOf(response.partitions, 1).records;
    expect(keyed.includes(Buffer.from('trace-id'))).toBe(true);
    expect(keyed.includes(Buffer.from('key-4'))).toBe(true);
    expect(keyed.includes(Buffer.from('value-4'))).toBe(true);
    expect(partitionOf(response.partitions, 0).records.includes(Buffer.from('0:9'))).toBe(true);
  });

  it('fetches from the middle of a partition under read_committed', async () => {
    const response = await fetch(connection, request(topic, [[1, PLAIN_RECORDS]], true), 10_000);
    const answer = partitionOf(response.partitions, 1);
    expect(answer.errorCode).toBe(0);
    expect(answer.lastStableOffset).toBe(PLAIN_RECORDS + KEYED_RECORDS);
    const batches = batchHeaders(answer.records);
    // The broker answers with whole batches: the first may start before the offset asked for.
    expect(batches[0].baseOffset).toBeLessThanOrEqual(PLAIN_RECORDS);
    const last = batches[batches.length - 1];
    expect(last.baseOffset + last.lastOffsetDelta + 1).toBe(PLAIN_RECORDS + KEYED_RECORDS);
  });

  it('answers OFFSET_OUT_OF_RANGE for an offset past the end, with no records', async () => {
    const response = await fetch(connection, request(topic, [[0, PLAIN_RECORDS + 100]]), 10_000);
    const answer = partitionOf(response.partitions, 0);
    expect(answer.errorCode).toBe(OFFSET_OUT_OF_RANGE);
    expect(answer.records.length).toBe(0);
  });

  it('answers UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist', async () => {
    const missing = uniqueName('wire-fetch-missing');
    const response = await fetch(connection, request(missing, [[0, 0]]), 10_000);
    expect(response.partitions).toHaveLength(1);
    expect(response.partitions[0]).toMatchObject({ topic: missing, partition: 0, errorCode: UNKNOWN_TOPIC_OR_PARTITION });
  });

  it('keeps answering requests sent back to back on one connection in order', async () => {
    const answers = await Promise.all([
      fetch(connection, request(topic, [[0, 0]]), 10_000),
      fetch(connection, request(topic, [[1, 0]]), 10_000),
      requestApiVersions(connection, 10_000),
    ]);
    expect(answers[0].partitions.map((p) => [p.partition, p.highWatermark])).toEqual([[0, PLAIN_RECORDS]]);
    expect(answers[1].partitions.map((p) => [p.partition, p.highWatermark])).toEqual([[1, PLAIN_RECORDS + KEYED_RECORDS]]);
    expect(answers[2].has(API_KEY_FETCH)).toBe(true);
    expect(connection.isClosed).toBe(false);
  });
});
