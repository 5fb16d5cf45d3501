import type { FetchedRecord, KafkaHeader, RecordBuilder } from '../kafkaCapabilities';
import { AbortedTransaction, FetchedRecords, UnsupportedRecordFormatError } from './FetchedRecords';
import { encodeRecordBatch } from './recordBatchTestKit';

interface TestRecord extends FetchedRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly headers: readonly KafkaHeader[];
}

const build: RecordBuilder<TestRecord> = (topic, partition, offset, key, value, timestamp, headers) => ({
  topic,
  partition,
  offset,
  key,
  value,
  timestamp,
  headers,
});

const T0 = 1_700_000_000_000;

function fetched(
  data: Buffer,
  fetchOffset = 0,
  isReadCommitted = false,
  aborted: readonly AbortedTransaction[] | null = null,
): FetchedRecords {
  return new FetchedRecords('events', 3, data, fetchOffset, isReadCommitted, aborted);
}

/** Reads until done, `max` at a time; fails rather than loop if a read makes no progress without finishing. */
function readAll(records: FetchedRecords, max = 1000): { out: TestRecord[]; sizes: number[] } {
  const out: TestRecord[] = [];
  const sizes: number[] = [];
  while (!records.isDone) {
    const pushed = records.read(max, build, out, sizes);
    if (pushed < max && !records.isDone) throw new Error(`read returned ${pushed} of ${max} without finishing`);
  }
  return { out, sizes };
}

const text = (buffer: Buffer | null): string | null => (buffer === null ? null : buffer.toString('utf8'));
const offsetsOf = (records: readonly TestRecord[]): number[] => records.map((record) => record.offset);

/** A control batch holding one marker (key: version int16, type int16; 0 ABORT, 1 COMMIT). */
function marker(baseOffset: number, producerId: number, type: 'abort' | 'commit'): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type === 'abort' ? 0 : 1, 2);
  const value = Buffer.from([0, 0, 0, 0, 0, 0]); // version int16, coordinator epoch int32
  return encodeRecordBatch({ baseOffset, producerId, isTransactional: true, isControl: true, records: [{ key, value }] });
}

function transactional(baseOffset: number, producerId: number, count: number): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ key: `p${producerId}`, value: `v${baseOffset + i}` }));
  return encodeRecordBatch({ baseOffset, producerId, isTransactional: true, records });
}

describe('FetchedRecords', () => {
  it('decodes keys, values, null keys and values, headers and timestamps across several batches', () => {
    const data = Buffer.concat([
      encodeRecordBatch({
        baseOffset: 0,
        baseTimestamp: T0,
        records: [
          { key: 'k0', value: 'v0', timestampDelta: 0 },
          { key: null, value: 'v1', timestampDelta: 5, headers: [{ key: 'trace', value: 'abc' }, { key: 'empty', value: null }] },
          { key: 'k2', value: null, timestampDelta: 9 },
        ],
      }),
      encodeRecordBatch({
        baseOffset: 3,
        baseTimestamp: T0 + 100,
        records: [
          { key: 'k3', value: 'v3', timestampDelta: 1 },
          { key: 'k4', value: 'ü', timestampDelta: 2, headers: [{ key: 'ключ', value: Buffer.from([1, 2]) }] },
        ],
      }),
    ]);
    const records = fetched(data);
    expect(records.endOffset).toBe(5);
    expect(records.bytes).toBe(data.length);
    expect(records.isDone).toBe(false);
    expect(records.nextOffset).toBe(0);

    const { out } = readAll(records);
    expect(out.map((r) => [r.topic, r.partition, r.offset, text(r.key), text(r.value), r.timestamp])).toEqual([
      ['events', 3, 0, 'k0', 'v0', T0],
      ['events', 3, 1, null, 'v1', T0 + 5],
      ['events', 3, 2, 'k2', null, T0 + 9],
      ['events', 3, 3, 'k3', 'v3', T0 + 101],
      ['events', 3, 4, 'k4', 'ü', T0 + 102],
    ]);
    expect(out[1].headers.map((h) => [h.key, [...h.value]])).toEqual([
      ['trace', [...Buffer.from('abc')]],
      ['empty', []],
    ]);
    expect(out[4].headers.map((h) => [h.key, [...h.value]])).toEqual([['ключ', [1, 2]]]);
    // Records without headers share one frozen empty array.
    expect(out[0].headers).toHaveLength(0);
    expect(out[0].headers).toBe(out[2].headers);
    expect(Object.isFrozen(out[0].headers)).toBe(true);
    // Keys and values are views into the fetched bytes, not copies.
    expect(out[0].key?.buffer).toBe(data.buffer);
    expect(out[3].value?.buffer).toBe(data.buffer);
    expect(records.isDone).toBe(true);
    expect(records.nextOffset).toBe(5);
  });

  it('stops after max records in the middle of a batch and goes on from there on the next call', () => {
    const data = Buffer.concat([
      encodeRecordBatch({ baseOffset: 10, records: [0, 1, 2, 3].map((i) => ({ key: null, value: `v${10 + i}` })) }),
      encodeRecordBatch({ baseOffset: 14, records: [0, 1].map((i) => ({ key: null, value: `v${14 + i}` })) }),
    ]);
    const records = fetched(data, 10);
    const out: TestRecord[] = [];
    const sizes: number[] = [];

    expect(records.read(3, build, out, sizes)).toBe(3);
    expect(offsetsOf(out)).toEqual([10, 11, 12]);
    expect(records.nextOffset).toBe(13);
    expect(records.isDone).toBe(false);

    expect(records.read(2, build, out, sizes)).toBe(2);
    expect(offsetsOf(out)).toEqual([10, 11, 12, 13, 14]);
    expect(records.nextOffset).toBe(15);

    expect(records.read(0, build, out, sizes)).toBe(0);
    expect(records.nextOffset).toBe(15);

    expect(records.read(5, build, out, sizes)).toBe(1);
    expect(out.map((r) => text(r.value))).toEqual(['v10', 'v11', 'v12', 'v13', 'v14', 'v15']);
    expect(records.isDone).toBe(true);
    expect(records.nextOffset).toBe(16);
    expect(records.read(5, build, out, sizes)).toBe(0);
  });

  it('skips the records of a batch below the fetch offset', () => {
    const data = encodeRecordBatch({ baseOffset: 20, records: [0, 1, 2, 3, 4].map((i) => ({ key: null, value: `v${20 + i}` })) });
    const records = fetched(data, 23);
    expect(records.nextOffset).toBe(23);
    const out: TestRecord[] = [];
    expect(records.read(1, build, out, [])).toBe(1);
    expect(out.map((r) => [r.offset, text(r.value)])).toEqual([[23, 'v23']]);
    expect(records.nextOffset).toBe(24);
    expect(offsetsOf(readAll(records).out)).toEqual([24]);
    expect(records.endOffset).toBe(25);
  });

  it('skips a whole batch below the fetch offset', () => {
    const data = Buffer.concat([
      encodeRecordBatch({ baseOffset: 0, records: [{ key: null, value: 'a' }, { key: null, value: 'b' }] }),
      encodeRecordBatch({ baseOffset: 2, records: [{ key: null, value: 'c' }] }),
    ]);
    expect(offsetsOf(readAll(fetched(data, 2)).out)).toEqual([2]);
  });

  it('ignores a partial batch at the end and ends after the last complete one', () => {
    const whole = encodeRecordBatch({ baseOffset: 7, records: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] });
    const next = encodeRecordBatch({ baseOffset: 9, records: [{ key: 'c', value: '3' }] });
    for (const cut of [next.length - 1, 30, 11, 5]) {
      const records = fetched(Buffer.concat([whole, next.subarray(0, cut)]), 7);
      expect(records.endOffset).toBe(9);
      expect(offsetsOf(readAll(records).out)).toEqual([7, 8]);
      expect(records.nextOffset).toBe(9);
    }
  });

  it('ends at the fetch offset when the data holds no complete batch', () => {
    const partial = encodeRecordBatch({ baseOffset: 42, records: [{ key: 'a', value: '1' }] }).subarray(0, 40);
    for (const data of [Buffer.alloc(0), partial]) {
      const records = fetched(data, 42);
      expect(records.endOffset).toBe(42);
      expect(records.isDone).toBe(true);
      expect(records.nextOffset).toBe(42);
      expect(records.bytes).toBe(data.length);
      expect(records.read(10, build, [], [])).toBe(0);
    }
  });

  it('decompresses a gzip batch and reads it between uncompressed ones', () => {
    const data = Buffer.concat([
      encodeRecordBatch({ baseOffset: 0, records: [{ key: 'a', value: 'plain' }] }),
      encodeRecordBatch({
        baseOffset: 1,
        compression: 'gzip',
        baseTimestamp: T0,
        records: [
          { key: 'b', value: 'zipped-1', timestampDelta: 3 },
          { key: null, value: 'zipped-2'.repeat(50), headers: [{ key: 'h', value: 'x' }] },
        ],
      }),
      encodeRecordBatch({ baseOffset: 3, records: [{ key: 'c', value: 'plain' }] }),
    ]);
    const records = fetched(data);
    expect(records.endOffset).toBe(4);
    const out: TestRecord[] = [];
    records.read(2, build, out, []);
    expect(records.nextOffset).toBe(2);
    const { out: rest, sizes } = readAll(records);
    out.push(...rest);
    expect(out.map((r) => [r.offset, text(r.key), text(r.value)])).toEqual([
      [0, 'a', 'plain'],
      [1, 'b', 'zipped-1'],
      [2, null, 'zipped-2'.repeat(50)],
      [3, 'c', 'plain'],
    ]);
    expect(out[1].timestamp).toBe(T0 + 3);
    expect(text(out[2].headers[0].value)).toBe('x');
    expect(sizes).toEqual([400, 6]);
  });

  it('gives every record the batch max timestamp under LogAppendTime', () => {
    const data = encodeRecordBatch({
      baseOffset: 0,
      baseTimestamp: T0,
      logAppendTime: true,
      maxTimestamp: T0 + 777,
      records: [
        { key: null, value: 'a', timestampDelta: 1 },
        { key: null, value: 'b', timestampDelta: 2 },
      ],
    });
    expect(readAll(fetched(data)).out.map((r) => r.timestamp)).toEqual([T0 + 777, T0 + 777]);
  });

  it('counts key and value bytes of each record in sizes, 0 for null', () => {
    const data = encodeRecordBatch({
      baseOffset: 0,
      records: [
        { key: 'abc', value: 'hello' },
        { key: null, value: 'hello' },
        { key: 'abc', value: null },
        { key: null, value: null },
        { key: '', value: '', headers: [{ key: 'not-counted', value: 'xyz' }] },
      ],
    });
    const { out, sizes } = readAll(fetched(data));
    expect(sizes).toEqual([8, 5, 3, 0, 0]);
    expect(out[4].key).toEqual(Buffer.alloc(0));
    expect(out[3].key).toBeNull();
  });

  it('decodes multi-byte, negative and beyond-32-bit varints and varlongs', () => {
    const bigKey = Buffer.alloc(200, 7);
    const bigValue = Buffer.alloc(100_000, 9);
    const manyHeaders = Array.from({ length: 70 }, (_, i) => ({ key: `h${i}`, value: `${i}` }));
    const baseOffset = 2 ** 40 + 3;
    const data = encodeRecordBatch({
      baseOffset,
      baseTimestamp: T0,
      producerId: 2 ** 41 + 5,
      maxTimestamp: T0 + 2 ** 40,
      records: [
        { key: bigKey, value: bigValue, offsetDelta: 0, timestampDelta: 2 ** 31 + 5 },
        { key: null, value: 'b', offsetDelta: 300, timestampDelta: -1_000_000, headers: manyHeaders },
        { key: null, value: 'c', offsetDelta: 2 ** 20, timestampDelta: 2 ** 40 },
        { key: null, value: 'd', offsetDelta: 2 ** 31 - 1, timestampDelta: -(2 ** 45) },
      ],
    });
    const records = fetched(data, baseOffset);
    expect(records.endOffset).toBe(baseOffset + 2 ** 31);
    const { out, sizes } = readAll(records);
    expect(out.map((r) => [r.offset, r.timestamp])).toEqual([
      [baseOffset, T0 + 2 ** 31 + 5],
      [baseOffset + 300, T0 - 1_000_000],
      [baseOffset + 2 ** 20, T0 + 2 ** 40],
      [baseOffset + 2 ** 31 - 1, T0 - 2 ** 45],
    ]);
    expect(out[0].key?.equals(bigKey)).toBe(true);
    expect(out[0].value?.equals(bigValue)).toBe(true);
    expect(sizes[0]).toBe(100_200);
    expect(out[1].headers).toHaveLength(70);
    expect([out[1].headers[69].key, text(out[1].headers[69].value)]).toEqual(['h69', '69']);
  });

  it('skips control batches and keeps transactional records when reading uncommitted', () => {
    const data = Buffer.concat([transactional(0, 1, 2), marker(2, 1, 'abort'), transactional(3, 2, 1), marker(4, 2, 'commit')]);
    const records = fetched(data, 0, false, [{ producerId: 1, firstOffset: 0 }]);
    expect(records.endOffset).toBe(5);
    const out: TestRecord[] = [];
    expect(records.read(3, build, out, [])).toBe(3);
    expect(offsetsOf(out)).toEqual([0, 1, 3]);
    // The trailing marker delivers nothing: the read steps over it and is done.
    expect(records.isDone).toBe(true);
    expect(records.nextOffset).toBe(5);
  });

  it('skips an aborted transaction when reading committed, keeps other producers and resumes after the ABORT marker', () => {
    const data = Buffer.concat([
      transactional(0, 1, 2), // aborted
      transactional(2, 2, 2), // committed
      encodeRecordBatch({ baseOffset: 4, records: [{ key: null, value: 'plain' }] }),
      marker(5, 1, 'abort'),
      marker(6, 2, 'commit'),
      transactional(7, 1, 2), // the producer's next transaction, committed
      marker(9, 1, 'commit'),
    ]);
    const records = fetched(data, 0, true, [{ producerId: 1, firstOffset: 0 }]);
    expect(records.endOffset).toBe(10);
    const { out } = readAll(records, 2);
    expect(out.map((r) => [r.offset, text(r.value)])).toEqual([
      [2, 'v2'],
      [3, 'v3'],
      [4, 'plain'],
      [7, 'v7'],
      [8, 'v8'],
    ]);
    expect(records.nextOffset).toBe(10);
  });

  it('skips a producer only from the first offset of its aborted transaction on', () => {
    const data = Buffer.concat([
      transactional(0, 1, 2),
      marker(2, 1, 'commit'),
      transactional(3, 1, 2), // aborted
      transactional(5, 3, 1), // aborted, listed first though later
      marker(6, 1, 'abort'),
      marker(7, 3, 'abort'),
      transactional(8, 3, 1),
    ]);
    const aborted = [
      { producerId: 3, firstOffset: 5 },
      { producerId: 1, firstOffset: 3 },
    ];
    expect(offsetsOf(readAll(fetched(data, 0, true, aborted)).out)).toEqual([0, 1, 8]);
    expect(offsetsOf(readAll(fetched(data, 0, true, null)).out)).toEqual([0, 1, 3, 4, 5, 8]);
  });

  it('keeps nextOffset at or below the next record while batches ahead are skipped', () => {
    const data = Buffer.concat([transactional(0, 1, 1), marker(1, 1, 'abort'), transactional(2, 2, 1), marker(3, 2, 'commit')]);
    const records = fetched(data, 0, true, [{ producerId: 1, firstOffset: 0 }]);
    expect(records.nextOffset).toBeLessThanOrEqual(2);
    const out: TestRecord[] = [];
    expect(records.read(1, build, out, [])).toBe(1);
    expect(offsetsOf(out)).toEqual([2]);
    expect(records.isDone).toBe(true);
    expect(records.nextOffset).toBe(4);
  });

  it('steps over a batch compaction left empty and ends after its last offset delta', () => {
    const data = Buffer.concat([
      encodeRecordBatch({ baseOffset: 0, records: [{ key: 'a', value: '1' }] }),
      encodeRecordBatch({ baseOffset: 1, records: [], lastOffsetDelta: 4 }),
      encodeRecordBatch({ baseOffset: 6, records: [{ key: 'b', value: '2' }], lastOffsetDelta: 2 }),
    ]);
    const records = fetched(data);
    expect(records.endOffset).toBe(9);
    expect(offsetsOf(readAll(records).out)).toEqual([0, 6]);
    expect(records.nextOffset).toBe(9);
  });

  it('refuses a magic 1 batch from the constructor, naming its offset', () => {
    const data = Buffer.concat([
      encodeRecordBatch({ baseOffset: 0, records: [{ key: null, value: 'a' }] }),
      encodeRecordBatch({ baseOffset: 1, magic: 1, records: [{ key: null, value: 'b' }] }),
    ]);
    const error = catchError(() => fetched(data));
    expect(error).toBeInstanceOf(UnsupportedRecordFormatError);
    expect(error).toMatchObject({ offset: 1, reason: 'magic 1', retriable: false });
    expect((error as Error).message).toContain('events-3');
  });

  it.each([
    [2, 'snappy'],
    [3, 'lz4'],
    [4, 'zstd'],
  ])('refuses a batch with compression bits %i (%s) from the constructor, naming its offset', (codecBits, name) => {
    const data = Buffer.concat([
      encodeRecordBatch({ baseOffset: 50, records: [{ key: null, value: 'a' }] }),
      encodeRecordBatch({ baseOffset: 51, codecBits, records: [{ key: null, value: 'b' }] }),
    ]);
    const error = catchError(() => fetched(data, 50));
    expect(error).toBeInstanceOf(UnsupportedRecordFormatError);
    expect(error).toMatchObject({ offset: 51, reason: `${name} compression` });
  });

  it('throws a KafkaError when a record runs past the end of its batch', () => {
    const batch = encodeRecordBatch({ baseOffset: 5, records: [{ key: 'a', value: 'hello' }] });
    batch.writeInt32BE(2, 57); // claims two records, holds one
    const records = fetched(batch, 5);
    const out: TestRecord[] = [];
    expect(() => records.read(10, build, out, [])).toThrow(/offset 5 holds fewer records than its count says/);
    expect(offsetsOf(out)).toEqual([5]);
  });
});

function catchError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
