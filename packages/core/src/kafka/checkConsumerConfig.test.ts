import { ConfigError } from '../errors';
import { InMemoryOffsetStore } from '../offsets/InMemoryOffsetStore';
import { ConsumerStrategies } from './ConsumerStrategies';
import { resolveDirectStreamOptions } from './DirectStreamOptions';

/**
 * A librdkafka newer than this dstream (jest hoists the mock above the imports): it knows
 * `share.future.property`, refuses names it does not know and validates `ssl.key.password` the
 * way librdkafka words a refused value.
 */
jest.mock('node-rdkafka', () => {
  const known = new Set(['bootstrap.servers', 'group.id', 'share.future.property', 'ssl.key.password']);
  return {
    librdkafkaVersion: '9.1.0',
    KafkaConsumer: class {
      constructor(config: Record<string, unknown>) {
        for (const [name, value] of Object.entries(config)) {
          if (!known.has(name)) throw new Error(`No such configuration property: "${name}"`);
          if (name === 'ssl.key.password' && String(value).length < 8) {
            throw new Error(`Invalid value "${String(value)}" for configuration property "${name}"`);
          }
        }
      }
    },
  };
});

const base = { 'bootstrap.servers': '127.0.0.1:9092', 'group.id': 'g' };

function resolve(kafkaParams: Record<string, unknown>) {
  return resolveDirectStreamOptions({
    kafkaParams: kafkaParams as Record<string, string>,
    strategy: ConsumerStrategies.Subscribe(['events']),
    offsetStore: new InMemoryOffsetStore(),
  });
}

describe('kafkaParams checked by librdkafka itself', () => {
  it('accepts a property that only a newer librdkafka knows', () => {
    expect(resolve({ ...base, 'share.future.property': 'on' }).kafkaParams).toMatchObject({ 'share.future.property': 'on' });
  });

  it('refuses a name the linked librdkafka does not know, naming its version', () => {
    expect(() => resolve({ ...base, 'fetch.min.bytes': 1 })).toThrow(
      /^kafkaParams must hold librdkafka consumer properties only, and librdkafka 9\.1\.0 has no property of this name; got "fetch\.min\.bytes"\./,
    );
  });

  it('never echoes the value of a refused secret property, even where librdkafka quotes it', () => {
    let error: unknown;
    try {
      resolve({ ...base, 'ssl.key.password': 'Pw-4711' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { message, option, value } = error as ConfigError;
    expect(option).toBe('kafkaParams["ssl.key.password"]');
    expect(value).toBe('***');
    expect(message).toContain('Invalid value "***" for configuration property "ssl.key.password"');
    expect(message).not.toContain('Pw-4711');
  });
});
