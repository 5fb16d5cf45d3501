import { inspect } from 'node:util';
import { ConfigError } from '../errors';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { ConsumerStrategies } from './ConsumerStrategies';
import { DirectStreamOptions, resolveDirectStreamOptions } from './DirectStreamOptions';
import { nearestName } from './kafkaParams';
import { documentedConsumerProperties } from './KafkaClient';

const valid: DirectStreamOptions = {
  kafkaParams: { 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'g' },
  strategy: ConsumerStrategies.Subscribe(['events']),
  offsetStore: new InMemoryOffsetStore(),
};

function errorOf(options: Partial<DirectStreamOptions> & Record<string, unknown>): ConfigError {
  try {
    resolveDirectStreamOptions({ ...valid, ...options } as DirectStreamOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveDirectStreamOptions', () => {
  it("fills in the defaults: at-least-once, 'latest' start, 'fail' on out of range, 'earliest' for new partitions", () => {
    expect(resolveDirectStreamOptions(valid)).toMatchObject({
      groupId: 'g',
      brokers: '127.0.0.1:9092',
      delivery: 'at-least-once',
      startingOffsets: 'latest',
      offsetOutOfRange: 'fail',
      newPartitions: 'earliest',
      commitRetries: Number.POSITIVE_INFINITY,
      storeOutageBudgetMs: 60_000,
      revokeTimeoutMs: 30_000,
      backpressure: { enabled: false },
    });
  });

  it('requires bootstrap.servers and group.id', () => {
    expect(errorOf({ kafkaParams: { 'group.id': 'g' } }).option).toBe('kafkaParams["bootstrap.servers"]');
    expect(errorOf({ kafkaParams: { 'bootstrap.servers': 'b:9092' } }).option).toBe('kafkaParams["group.id"]');
  });

  it('names the nearest librdkafka property for an unknown one', () => {
    const error = errorOf({ kafkaParams: { ...valid.kafkaParams, 'sesion.timeout.ms': 6000 } });
    expect(error.option).toBe('kafkaParams');
    expect(error.value).toBe('sesion.timeout.ms');
    expect(error.message).toContain('Did you mean "session.timeout.ms"?');
  });

  it("refuses a value librdkafka refuses, in librdkafka's words, naming the property and the value", () => {
    const error = errorOf({ kafkaParams: { ...valid.kafkaParams, 'fetch.min.bytes': -5 } });
    expect(error.option).toBe('kafkaParams["fetch.min.bytes"]');
    expect(error.value).toBe(-5);
    expect(error.message).toMatch(
      /^kafkaParams\["fetch.min.bytes"\] is refused by librdkafka \d+\.\d+\.\d+: .*value -5 is outside allowed range 1\.\.100000000; got -5\. Pass a value librdkafka accepts/,
    );
    expect(errorOf({ kafkaParams: { ...valid.kafkaParams, 'security.protocol': 'sasl_plain' } }).message).toContain(
      'Invalid value "sasl_plain" for configuration property "security.protocol"',
    );
  });

  it('refuses a producer property, which a consumer would ignore', () => {
    const error = errorOf({ kafkaParams: { ...valid.kafkaParams, 'linger.ms': 5 } });
    expect(error.option).toBe('kafkaParams["linger.ms"]');
    expect(error.message).toContain('is a producer property, which a consumer ignores');
  });

  it('accepts every consumer property the linked librdkafka documents, from its own documentation', () => {
    const documented = documentedConsumerProperties();
    expect(documented.length).toBeGreaterThan(100);
    expect(documented).toEqual(expect.arrayContaining(['group.id', 'fetch.min.bytes', 'isolation.level', 'sasl.password']));
    expect(documented).not.toContain('linger.ms');
  });

  it('never echoes the value of a misspelt or malformed credential', () => {
    const misspelt = errorOf({ kafkaParams: { ...valid.kafkaParams, 'sasl.pasword': 'SaslPw-4711' } });
    expect(misspelt.message).toContain('Did you mean "sasl.password"?');
    const asArray = errorOf({ kafkaParams: { ...valid.kafkaParams, 'sasl.password': ['SaslPw-4711'] as unknown as string } });
    expect(asArray.option).toBe('kafkaParams["sasl.password"]');
    expect(asArray.message).toContain('got ***');
    const misspeltAsArray = errorOf({ kafkaParams: { ...valid.kafkaParams, 'sasl.pasword': ['SaslPw-4711'] as unknown as string } });
    expect(misspeltAsArray.option).toBe('kafkaParams');
    expect(misspeltAsArray.value).toBe('sasl.pasword');
    for (const error of [misspelt, asArray, misspeltAsArray]) {
      expect(`${error.message} ${JSON.stringify(error.value)} ${inspect(error, { depth: null })}`).not.toContain('SaslPw-4711');
    }
  });

  it('shows the resolved options, and the stream that keeps them, without credentials', () => {
    const kafkaParams = {
      ...valid.kafkaParams,
      'security.protocol': 'sasl_ssl',
      'sasl.username': 'app',
      'sasl.password': 'SaslPw-4711',
      'ssl.key.password': 'KeyPw-4711',
    };
    const resolved = resolveDirectStreamOptions({ ...valid, kafkaParams });
    for (const shown of [inspect(resolved, { depth: null }), JSON.stringify(resolved), inspect({ holder: resolved }, { depth: null })]) {
      expect(shown).not.toMatch(/SaslPw|KeyPw/);
      expect(shown).toContain('sasl.username');
    }
    // The client still gets the real values.
    expect({ ...resolved.kafkaParams }).toMatchObject({ 'sasl.password': 'SaslPw-4711', 'ssl.key.password': 'KeyPw-4711' });
  });

  it('refuses auto-commit and auto offset store, but accepts them set to false', () => {
    expect(errorOf({ kafkaParams: { ...valid.kafkaParams, 'enable.auto.commit': true } }).message).toMatch(/offsetStore/);
    expect(errorOf({ kafkaParams: { ...valid.kafkaParams, 'enable.auto.offset.store': 'true' } }).option).toBe(
      'kafkaParams["enable.auto.offset.store"]',
    );
    expect(() =>
      resolveDirectStreamOptions({ ...valid, kafkaParams: { ...valid.kafkaParams, 'enable.auto.commit': false } }),
    ).not.toThrow();
  });

  it('points auto.offset.reset to startingOffsets and offsetOutOfRange', () => {
    expect(errorOf({ kafkaParams: { ...valid.kafkaParams, 'auto.offset.reset': 'earliest' } }).message).toContain(
      'startingOffsets',
    );
  });

  it('explains which offset store to choose when none is given', () => {
    const error = errorOf({ offsetStore: undefined });
    expect(error.option).toBe('offsetStore');
    expect(error.message).toContain('InMemoryOffsetStore');
    expect(error.message).toContain('@dstream/offsets-postgres');
  });

  it('refuses a strategy not made by ConsumerStrategies', () => {
    expect(errorOf({ strategy: { kind: 'Everything' } as never }).option).toBe('strategy');
  });

  it('refuses non-positive rates and a floor above the cap', () => {
    expect(errorOf({ maxRatePerPartition: 0 }).option).toBe('maxRatePerPartition');
    expect(errorOf({ maxRatePerPartition: Number.NaN }).message).toMatch(/^maxRatePerPartition must be a positive number .*; got NaN\. /);
    expect(errorOf({ minRatePerPartition: -1 }).option).toBe('minRatePerPartition');
    expect(errorOf({ maxRatePerPartition: 10, minRatePerPartition: 20 }).message).toContain('must not exceed');
    expect(errorOf({ backpressure: { enabled: true, initialRate: 0 } }).option).toBe('backpressure.initialRate');
  });

  it('bounds batches to 32 MiB unless maxBatchBytes says otherwise, and refuses a budget below 1 MiB', () => {
    expect(resolveDirectStreamOptions(valid)).toMatchObject({ maxBatchBytes: 32 * 2 ** 20, maxBufferedRecordsPerPartition: undefined });
    expect(resolveDirectStreamOptions({ ...valid, maxBatchBytes: 2 ** 27 }).maxBatchBytes).toBe(2 ** 27);
    expect(errorOf({ maxBatchBytes: 1000 }).message).toMatch(/maxBatchBytes .*at least 1048576 \(1 MiB\); got 1000\. Pass e\.g\. 67108864/);
    expect(errorOf({ maxBatchBytes: 2 ** 20 + 0.5 }).message).toMatch(/must be an integer/);
  });

  it('refuses initialRate without backpressure enabled', () => {
    expect(errorOf({ backpressure: { initialRate: 100 } }).option).toBe('backpressure.initialRate');
  });

  it('refuses unknown choices and malformed start positions', () => {
    expect(errorOf({ delivery: 'twice' as never }).option).toBe('delivery');
    expect(errorOf({ offsetOutOfRange: 'skip' as never }).option).toBe('offsetOutOfRange');
    expect(errorOf({ newPartitions: 'now' as never }).option).toBe('newPartitions');
    expect(errorOf({ startingOffsets: { timestampMs: -5 } }).option).toBe('startingOffsets');
    expect(errorOf({ valueDeserializer: 'avro' as never }).option).toBe('valueDeserializer');
    expect(errorOf({ commitRetries: 1.5 }).option).toBe('commitRetries');
    expect(errorOf({ connectTimeoutMs: 0 }).option).toBe('connectTimeoutMs');
  });

  it('deserializes strings and JSON, keeping null as null', () => {
    const resolved = resolveDirectStreamOptions<string, { n: number }>({
      ...valid,
      keyDeserializer: 'string',
      valueDeserializer: 'json',
    });
    expect(resolved.keyDeserializer(Buffer.from('k'))).toBe('k');
    expect(resolved.valueDeserializer(Buffer.from('{"n":1}'))).toEqual({ n: 1 });
    expect(resolved.valueDeserializer(null)).toBeNull();
  });

  it("hands 'buffer' keys and values over as copies in pooled memory when small, and large ones as they are unless they are views", () => {
    const resolved = resolveDirectStreamOptions<Buffer | null, Buffer | null>(valid);
    const small = Buffer.from('key-0001');
    const key = resolved.keyDeserializer(small)!;
    expect(key).toEqual(small);
    expect(key).not.toBe(small);
    // A view on Node's shared slab, not a backing store of its own.
    expect(key.buffer.byteLength).toBe(Buffer.poolSize);
    const large = Buffer.alloc(Buffer.poolSize);
    expect(resolved.valueDeserializer(large)).toBe(large);
    // A large value inside a fetch response is copied, so a record kept does not hold the response.
    const response = Buffer.alloc(4 * Buffer.poolSize, 7);
    const view = response.subarray(100, 100 + Buffer.poolSize);
    const copied = resolved.valueDeserializer(view)!;
    expect(copied).toEqual(view);
    expect(copied.buffer).not.toBe(response.buffer);
    expect(copied.buffer.byteLength).toBe(Buffer.poolSize);
    expect(resolved.valueDeserializer(null)).toBeNull();
  });

  it("refuses invalid UTF-8 in 'string' and 'json' instead of replacing it with U+FFFD", () => {
    const resolved = resolveDirectStreamOptions<string, unknown>({ ...valid, keyDeserializer: 'string', valueDeserializer: 'json' });
    // "é" in Latin-1, then a lone continuation byte inside a JSON string.
    expect(() => resolved.keyDeserializer(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toThrow(
      /^keyDeserializer 'string' needs UTF-8, but these 4 bytes are not valid UTF-8 \(starting 636166e9\)\. .*keyDeserializer: 'buffer'/,
    );
    expect(() => resolved.valueDeserializer(Buffer.from([0x22, 0x80, 0x22]))).toThrow(/valueDeserializer 'json' needs UTF-8/);
    expect(resolved.keyDeserializer(Buffer.from('café'))).toBe('café');
    expect(resolved.valueDeserializer(Buffer.from('"€"'))).toBe('€');
  });
});

describe('nearestName', () => {
  it('finds the closest name by edit distance', () => {
    expect(nearestName('group.idd', ['group.id', 'client.id'])).toBe('group.id');
  });
});

describe('ConsumerStrategies', () => {
  it('refuses an empty topic list and invalid topic names', () => {
    expect(() => ConsumerStrategies.Subscribe([])).toThrow(/non-empty array/);
    expect(() => ConsumerStrategies.Subscribe(['bad topic'])).toThrow(ConfigError);
  });

  it('refuses a pattern given as a string, naming the RegExp to pass instead', () => {
    expect(() => ConsumerStrategies.SubscribePattern('^events' as never)).toThrow(/new RegExp\("\^events"\)/);
    expect(() => ConsumerStrategies.SubscribePattern('(' as never)).toThrow(/not even a valid pattern/);
  });

  it('refuses pattern flags and lookarounds that librdkafka cannot match', () => {
    expect(() => ConsumerStrategies.SubscribePattern(/^events/i)).toThrow(/no flags/);
    expect(() => ConsumerStrategies.SubscribePattern(/^(?!tmp).*/)).toThrow(/lookarounds/);
  });

  it('refuses an Assign listing a partition twice, or offsets for partitions it does not assign', () => {
    expect(() =>
      ConsumerStrategies.Assign([
        { topic: 't', partition: 0 },
        { topic: 't', partition: 0 },
      ]),
    ).toThrow(/lists t-0 twice/);
    expect(() =>
      ConsumerStrategies.Assign([{ topic: 't', partition: 0 }], [{ topic: 't', partition: 1, offset: 5 }]),
    ).toThrow(/not in the assigned partitions/);
  });

  it('refuses explicit offsets for a topic that is not subscribed or not matched', () => {
    expect(() => ConsumerStrategies.Subscribe(['a'], [{ topic: 'b', partition: 0, offset: 1 }])).toThrow(/not subscribed/);
    expect(() => ConsumerStrategies.SubscribePattern(/^a-/, [{ topic: 'b', partition: 0, offset: 1 }])).toThrow(
      /does not match/,
    );
  });

  it('keeps explicit offsets by topic and partition', () => {
    const strategy = ConsumerStrategies.Assign([{ topic: 't', partition: 3 }], [{ topic: 't', partition: 3, offset: 42 }]);
    expect(strategy.offsets.get('t:3')).toBe(42);
  });
  it('refuses mirrorOffsetsToGroup on a store that keeps the offsets in the group already, or a value that is not a boolean', () => {
    const kafkaStore = Object.assign(new InMemoryOffsetStore(), { name: 'kafka' });
    expect(() => resolveDirectStreamOptions({ ...valid, offsetStore: kafkaStore, mirrorOffsetsToGroup: true })).toThrow(
      /mirrorOffsetsToGroup is only for stores outside Kafka, and store "kafka" keeps the offsets in the consumer group already/,
    );
    expect(() => resolveDirectStreamOptions({ ...valid, mirrorOffsetsToGroup: 'yes' as unknown as boolean })).toThrow(ConfigError);
    expect(resolveDirectStreamOptions({ ...valid, mirrorOffsetsToGroup: true }).mirrorOffsetsToGroup).toBe(true);
    expect(resolveDirectStreamOptions(valid).mirrorOffsetsToGroup).toBe(false);
  });
});
