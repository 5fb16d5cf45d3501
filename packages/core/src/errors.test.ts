import {
  ConfigError,
  DStreamError,
  KafkaError,
  OffsetOutOfRangeError,
  OffsetStoreError,
  RecordProcessingError,
  StaleOffsetError,
  describeValue,
} from './errors';

describe('errors', () => {
  it('states the option, the value received and the fix in a ConfigError', () => {
    const error = new ConfigError('batchIntervalMs', -5, 'must be a positive integer', 'Pass e.g. 1000 for 1 s batches.');
    expect(error.message).toBe('batchIntervalMs must be a positive integer; got -5. Pass e.g. 1000 for 1 s batches.');
    expect(error.option).toBe('batchIntervalMs');
    expect(error.value).toBe(-5);
    expect(error.retriable).toBe(false);
    expect(error).toBeInstanceOf(DStreamError);
    expect(error.name).toBe('ConfigError');
  });

  it('shows numbers JSON cannot spell as themselves', () => {
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(describeValue(1.5)).toBe('1.5');
    expect(new ConfigError('maxRatePerPartition', Number.NaN, 'must be a positive number', 'Pass e.g. 1000.').message).toBe(
      'maxRatePerPartition must be a positive number; got NaN. Pass e.g. 1000.',
    );
  });

  it('keeps the client error as the cause of a store error and names the store and batch', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new OffsetStoreError('redis', 'commit failed', { retriable: true, cause, batchTimeMs: 2000 });
    expect(error.message).toBe('offset store redis (batch 2000): commit failed');
    expect(error.cause).toBe(cause);
    expect(error.retriable).toBe(true);
  });

  it('names both offsets in a stale commit and is never retriable', () => {
    const error = new StaleOffsetError('postgres', 'g', 'events', 3, 100, 250);
    expect(error).toBeInstanceOf(OffsetStoreError);
    expect(error.retriable).toBe(false);
    expect(error.message).toContain('events-3: expected stored offset 100, found 250');
  });

  it('names the partition, the offset and the log bounds when out of range', () => {
    const error = new OffsetOutOfRangeError('events', 1, 5, 100, 400);
    expect(error.message).toContain('offset 5 of events-1 is outside the log [100, 400]');
    expect(error.message).toContain("offsetOutOfRange: 'earliest'");
  });

  it('carries the librdkafka code and flags', () => {
    const error = new KafkaError('broker transport failure', { code: -195, isFatal: false, retriable: true });
    expect(error.code).toBe(-195);
    expect(error.retriable).toBe(true);
    expect(error.isFatal).toBe(false);
  });

  it('points at the record whose processing threw', () => {
    const error = new RecordProcessingError('map', new Error('bad json'), { topic: 't', partition: 2, offset: 41 });
    expect(error.message).toBe('map threw at t-2 offset 41: bad json');
    expect(error.offset).toBe(41);
  });
});
