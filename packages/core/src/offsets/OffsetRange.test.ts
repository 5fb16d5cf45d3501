import { ConfigError } from '../errors';
import { OffsetRange, topicPartitionKey } from './OffsetRange';

describe('OffsetRange', () => {
  it('counts the offsets of its half-open range', () => {
    expect(OffsetRange.create('events', 0, 100, 250).count).toBe(150);
    expect(OffsetRange.create('events', 0, 7, 7).count).toBe(0);
  });

  it('renders as topic-partition [from, until)', () => {
    expect(String(OffsetRange.create('events', 3, 10, 20))).toBe('events-3 [10, 20)');
  });

  it('round-trips through JSON', () => {
    const range = OffsetRange.create('events', 2, 5, 9);
    const back = OffsetRange.fromJSON(JSON.parse(JSON.stringify(range)));
    expect(back).toEqual(range);
    expect(back.toJSON()).toEqual({ topic: 'events', partition: 2, fromOffset: 5, untilOffset: 9 });
  });

  it('is immutable', () => {
    const range = OffsetRange.create('events', 0, 1, 2);
    expect(Object.isFrozen(range)).toBe(true);
    expect(() => {
      (range as { untilOffset: number }).untilOffset = 5;
    }).toThrow(TypeError);
  });

  it('keys ranges by topic and partition', () => {
    expect(OffsetRange.create('a', 1, 0, 0).key).toBe(topicPartitionKey('a', 1));
    expect(topicPartitionKey('a', 1)).toBe('a:1');
  });

  it('rejects an until below from with a ConfigError naming the field and both values', () => {
    expect(() => OffsetRange.create('events', 0, 10, 9)).toThrow(ConfigError);
    expect(() => OffsetRange.create('events', 0, 10, 9)).toThrow(
      'OffsetRange.untilOffset must not be below fromOffset 10; got 9.',
    );
  });

  it.each([
    ['partition', () => OffsetRange.create('t', -1, 0, 1), 'OffsetRange.partition'],
    ['fromOffset', () => OffsetRange.create('t', 0, 1.5, 2), 'OffsetRange.fromOffset'],
    ['untilOffset', () => OffsetRange.create('t', 0, 0, Number.NaN), 'OffsetRange.untilOffset'],
    ['topic', () => OffsetRange.create('', 0, 0, 1), 'OffsetRange.topic'],
  ])('rejects an invalid %s', (_field, make, option) => {
    try {
      make();
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe(option);
    }
  });

  it('reads back JSON with the same checks as create', () => {
    expect(() => OffsetRange.fromJSON({ topic: 't', partition: 0, fromOffset: 5, untilOffset: 1 })).toThrow(ConfigError);
  });
});
