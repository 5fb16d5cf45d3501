import { ConfigError, RecordProcessingError } from '../errors';
import { StateSpec } from '../state/StateSpec';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { BATCH_MS, FakeKafka, runJob, setUp, stored, twoPartitions } from './directStreamTestKit';

describe('dead-letter policy (recordErrors)', () => {
  const deadLetter = { policy: 'dead-letter' } as const;

  it('runs the batch maxAttempts times, then commits it without the record and keeps its dead letter in the same transaction', async () => {
    const calls: string[] = [];
    const { info, store, delivered } = await runJob(twoPartitions(5), { recordErrors: deadLetter }, (stream) =>
      stream
        .map((record) => record.value!)
        .filter((value) => {
          calls.push(value);
          if (value === '0:2') throw new Error('cannot parse 0:2');
          return true;
        })
        .map((value) => value.toUpperCase()),
    );
    expect(info.failure).toBeUndefined();
    expect(info.numDeadLetters).toBe(1);
    expect(info.numAttempts).toBe(4);
    expect(calls.filter((value) => value === '0:2')).toHaveLength(3);
    expect(delivered).toEqual(['0:0', '0:1', '0:3', '0:4', '1:0', '1:1', '1:2', '1:3', '1:4']);
    expect(info.numRecords).toBe(9);
    expect(await stored(store, 0, 1)).toEqual([5, 5]);
    expect(store.data.get(`out:${BATCH_MS}`)).toBe(9);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([
      {
        topic: 't',
        partition: 0,
        offset: 2,
        key: null,
        value: '0:2',
        operator: 'filter',
        error: 'cannot parse 0:2',
        attempts: 3,
        batchTimeMs: BATCH_MS,
      },
    ]);
  });

  it('runs the batch again after a failure that goes away, and sets nothing aside', async () => {
    let isFirst = true;
    const { info, store, delivered } = await runJob(twoPartitions(3), { recordErrors: deadLetter }, (stream) =>
      stream.map((record) => {
        if (record.value === '1:1' && isFirst) {
          isFirst = false;
          throw new Error('lookup timed out');
        }
        return record.value;
      }),
    );
    expect(info.failure).toBeUndefined();
    expect(info).toMatchObject({ numDeadLetters: 0, numAttempts: 2, numRecords: 6 });
    expect(delivered).toHaveLength(6);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([]);
    expect(await stored(store, 0, 1)).toEqual([3, 3]);
  });

  it("fails the batch at the record under the default 'fail' policy, naming it, and commits nothing", async () => {
    const { info, store } = await runJob(twoPartitions(3), {}, (stream) =>
      stream.map((record) => record.value).map((value) => {
        if (value === '1:2') throw new Error('bad');
        return value;
      }),
    );
    expect(info.failure).toBeInstanceOf(RecordProcessingError);
    expect(info.failure!.message).toBe('map threw at t-1 offset 2: bad');
    expect((info.failure as RecordProcessingError).isSourceRecord).toBe(true);
    expect(info).toMatchObject({ numAttempts: 1, numDeadLetters: 0 });
    expect(await stored(store, 0, 1)).toEqual([undefined, undefined]);
  });

  it('sets aside a record whose value cannot be deserialized, keeping its bytes', async () => {
    const kafka = twoPartitions(3);
    const { info, store, delivered } = await runJob(
      kafka,
      {
        recordErrors: { policy: 'dead-letter', maxAttempts: 1 },
        valueDeserializer: (data) => {
          if (data?.toString() === '1:0') throw new Error('not JSON');
          return data === null ? null : data.toString();
        },
      },
      (stream) => stream.map((record) => record.value),
    );
    expect(info.failure).toBeUndefined();
    expect(delivered).toEqual(['0:0', '0:1', '0:2', '1:1', '1:2']);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([
      expect.objectContaining({
        partition: 1,
        offset: 0,
        value: `base64:${Buffer.from('1:0').toString('base64')}`,
        operator: 'valueDeserializer',
        error: 'not JSON',
        attempts: 1,
      }),
    ]);
  });

  it('keeps failing an error that no single record is to blame for, and says why', async () => {
    const { info, store } = await runJob(twoPartitions(2), { recordErrors: deadLetter }, (stream) =>
      stream
        .map((record) => [record.partition, 1] as [number, number])
        .reduceByKey(() => {
          throw new Error('overflow');
        }),
    );
    expect(info.failure).toBeInstanceOf(RecordProcessingError);
    expect(info.failure!.message).toMatch(/^reduceByKey threw: overflow \(not dead-lettered: no single record read from Kafka is to blame/);
    expect(info.numAttempts).toBe(1);
    expect(await stored(store, 0, 1)).toEqual([undefined, undefined]);
  });

  it('charges the source record when a stage after a flatMap throws on one of the values made from it', async () => {
    const { info, store, delivered } = await runJob(twoPartitions(2), { recordErrors: { policy: 'dead-letter', maxAttempts: 1 } }, (stream) =>
      stream
        .flatMap((record) => [`${record.value}a`, `${record.value}b`])
        .filter((value) => value.length > 0)
        .map((value) => {
          if (value === '1:1b') throw new Error('bad half');
          return value;
        }),
    );
    expect(info.failure).toBeUndefined();
    expect(delivered).toEqual(['0:0a', '0:0b', '0:1a', '0:1b', '1:0a', '1:0b']);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([expect.objectContaining({ partition: 1, offset: 1, value: '1:1', operator: 'map' })]);
  });

  it('charges a failure after a mapPartitions to no source record', async () => {
    const { info } = await runJob(twoPartitions(2), { recordErrors: deadLetter }, (stream) =>
      stream
        .mapPartitions((records) => records)
        .map((record) => {
          if (record.offset === 1) throw new Error('bad');
          return record;
        }),
    );
    expect((info.failure as RecordProcessingError).isSourceRecord).toBe(false);
    expect(info.failure!.message).toMatch(/not dead-lettered/);
  });

  it('charges the source record when the map before an aggregation throws', async () => {
    const { info, store } = await runJob(twoPartitions(3), { recordErrors: { policy: 'dead-letter', maxAttempts: 2 } }, (stream) =>
      stream
        .map((record) => {
          if (record.value === '0:1') throw new Error('bad');
          return [record.partition, 1] as [number, number];
        })
        .reduceByKey((a, b) => a + b),
    );
    expect(info.failure).toBeUndefined();
    expect(info).toMatchObject({ numDeadLetters: 1, numAttempts: 3 });
    expect((await new InMemoryOffsetStore(store).loadDeadLetters('g')).map((letter) => letter.offset)).toEqual([1]);
  });

  it('fails the batch once more than maxPerBatch records would be set aside', async () => {
    const { info, store } = await runJob(
      twoPartitions(3),
      { recordErrors: { policy: 'dead-letter', maxAttempts: 1, maxPerBatch: 2 } },
      (stream) =>
        stream.map(() => {
          throw new Error('bug');
        }),
    );
    expect(info.failure!.message).toMatch(/already set aside recordErrors.maxPerBatch \(2\) records/);
    expect(info.numAttempts).toBe(3);
    expect(await new InMemoryOffsetStore(store).loadDeadLetters('g')).toEqual([]);
    expect(await stored(store, 0, 1)).toEqual([undefined, undefined]);
  });

  it('does not run a batch again when the job keeps state, and says why', async () => {
    const { info } = await runJob(twoPartitions(2), { recordErrors: deadLetter }, (stream) =>
      stream
        .map((record) => {
          if (record.value === '0:1') throw new Error('bad');
          return [record.partition, 1] as [number, number];
        })
        .mapWithState(StateSpec.function((_key: number, value: number | undefined) => value)),
    );
    expect(info.failure!.message).toMatch(/not dead-lettered: the job keeps state \(mapWithState/);
    expect(info.numAttempts).toBe(1);
  });

  it('writes the dead letter before the offsets under at-least-once', async () => {
    const store = new InMemoryOffsetStore();
    const { info } = await runJob(
      twoPartitions(3),
      { recordErrors: { policy: 'dead-letter', maxAttempts: 1 }, delivery: 'at-least-once', offsetStore: store },
      (stream) =>
        stream.map((record) => {
          if (record.value === '1:2') throw new Error('bad');
          return record.value;
        }),
    );
    expect(info.failure).toBeUndefined();
    expect((await new InMemoryOffsetStore(store).loadDeadLetters('g')).map((letter) => `${letter.partition}@${letter.offset}`)).toEqual(['1@2']);
    expect(await stored(store, 0, 1)).toEqual([3, 3]);
  });

  it('refuses a dead-letter policy with at-most-once delivery, where a failing record is never read again', () => {
    expect(() => setUp(new FakeKafka(), { delivery: 'at-most-once', recordErrors: { policy: 'dead-letter' } })).toThrow(
      "recordErrors does not apply with delivery: 'at-most-once'",
    );
  });

  it('refuses a dead-letter policy on a store that cannot keep dead letters', () => {
    const store = new InMemoryOffsetStore();
    Object.defineProperty(store, 'writeDeadLetters', { value: undefined });
    expect(() => setUp(new FakeKafka(), { offsetStore: store, recordErrors: { policy: 'dead-letter' } })).toThrow(
      'recordErrors needs an offset store that keeps dead letters, and store "memory" does not',
    );
  });

  it.each([
    ['dead-letter', "recordErrors must be 'fail' or { policy: 'dead-letter', maxAttempts?, maxPerBatch? }"],
    [{ policy: 'dead-letter', maxAttempts: 0 }, 'recordErrors.maxAttempts must be an integer from 1 to 100'],
    [{ policy: 'dead-letter', maxPerBatch: 1.5 }, 'recordErrors.maxPerBatch must be a positive integer'],
    [{ policy: 'dead-letter', maxAttempt: 2 }, 'recordErrors.maxAttempt is not an option of the dead-letter policy'],
  ])('refuses recordErrors %j', (recordErrors, message) => {
    expect(() => setUp(new FakeKafka(), { recordErrors: recordErrors as never })).toThrow(ConfigError);
    expect(() => setUp(new FakeKafka(), { recordErrors: recordErrors as never })).toThrow(message);
  });
});
