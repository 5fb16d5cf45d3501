import { ConfigError, KafkaError, OffsetRange, OffsetStoreError, StaleOffsetError, topicPartitionKey } from '@dstream/core';
import type { KafkaGroupBinding, OffsetCommit, TopicPartitionOffset } from '@dstream/core';
import type { OutputRecord, RecordProducer, StateTopicRecord } from '@dstream/core/internal';
import { KafkaOffsetStore } from './KafkaOffsetStore';

/** A stream's binding over an in-memory group: what `committed` reads and `commit` writes. */
function fakeBinding(groupId = 'wordcount') {
  const offsets = new Map<string, number>();
  const commits: TopicPartitionOffset[][] = [];
  let failure: Error | undefined;
  const binding: KafkaGroupBinding = {
    groupId,
    groupMetadata: { groupId },
    committed: async (partitions) => {
      const result = new Map<string, number>();
      for (const { topic, partition } of partitions) {
        const offset = offsets.get(topicPartitionKey(topic, partition));
        if (offset !== undefined) result.set(topicPartitionKey(topic, partition), offset);
      }
      return result;
    },
    commit: async (list) => {
      if (failure) throw failure;
      commits.push([...list]);
      for (const { topic, partition, offset } of list) offsets.set(topicPartitionKey(topic, partition), offset);
    },
  };
  return { binding, offsets, commits, failNextCommit: (error: Error) => (failure = error) };
}

function commitOf(topic: string, partition: number, from: number, until: number, expected: number | null): OffsetCommit {
  return { range: OffsetRange.create(topic, partition, from, until), expectedOffset: expected };
}

describe('KafkaOffsetStore bound to a Kafka direct stream', () => {
  it('commits the until offset of every range through the binding in one request', async () => {
    const { binding, commits } = fakeBinding();
    const store = new KafkaOffsetStore();
    await store.connect({ kafka: binding });

    await store.commit('wordcount', [commitOf('lines', 0, 0, 10, null), commitOf('lines', 1, 0, 7, null)]);

    expect(commits).toEqual([
      [
        { topic: 'lines', partition: 0, offset: 10 },
        { topic: 'lines', partition: 1, offset: 7 },
      ],
    ]);
    expect([...(await store.load('wordcount', [{ topic: 'lines', partition: 0 }]))]).toEqual([['lines:0', 10]]);
  });

  it('rejects a commit whose expected offset differs from the committed one without committing anything', async () => {
    const { binding, offsets, commits } = fakeBinding();
    offsets.set('lines:0', 10);
    offsets.set('lines:1', 30);
    const store = new KafkaOffsetStore();
    await store.connect({ kafka: binding });

    const rejection = store.commit('wordcount', [commitOf('lines', 0, 10, 20, 10), commitOf('lines', 1, 20, 40, 20)]);

    await expect(rejection).rejects.toBeInstanceOf(StaleOffsetError);
    await expect(rejection).rejects.toMatchObject({ partition: 1, expectedOffset: 20, actualOffset: 30 });
    expect(commits).toEqual([]);
  });

  it('serves only the group of the stream that bound it', async () => {
    const store = new KafkaOffsetStore();
    await store.connect({ kafka: fakeBinding('wordcount').binding });

    await expect(store.load('other', [{ topic: 'lines', partition: 0 }])).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(store.commit('other', [commitOf('lines', 0, 0, 1, null)])).rejects.toThrow(/bound to group wordcount/);
  });

  it('wraps a Kafka failure in an OffsetStoreError that keeps it as cause and copies its retriable flag', async () => {
    const { binding, failNextCommit } = fakeBinding();
    const timeout = new KafkaError('commit offsets to the consumer group: Local: Timed out', { code: -185, retriable: true });
    failNextCommit(timeout);
    const store = new KafkaOffsetStore();
    await store.connect({ kafka: binding });

    const rejection = store.commit('wordcount', [commitOf('lines', 0, 0, 5, null)]);

    await expect(rejection).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(rejection).rejects.toMatchObject({ retriable: true, cause: timeout });
  });

  it('lets exactly one of two concurrent commits from the same expected offset through', async () => {
    const { binding, offsets } = fakeBinding();
    offsets.set('lines:0', 100);
    const [a, b] = [new KafkaOffsetStore(), new KafkaOffsetStore()];
    await a.connect({ kafka: binding });
    await b.connect({ kafka: binding });

    const outcomes = await Promise.allSettled([
      a.commit('wordcount', [commitOf('lines', 0, 100, 150, 100)]),
      b.commit('wordcount', [commitOf('lines', 0, 100, 170, 100)]),
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect(offsets.get('lines:0')).toBe(150);
  });

  it('leaves the stream its consumer on close, and closes idempotently', async () => {
    const { binding } = fakeBinding();
    const store = new KafkaOffsetStore();
    await store.connect({ kafka: binding });
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
    await expect(store.load('wordcount', [{ topic: 'lines', partition: 0 }])).rejects.toThrow(/closed/);
  });
});

describe('KafkaOffsetStore options', () => {
  it('refuses to connect with neither a Kafka direct stream nor brokers, naming both ways out', async () => {
    const rejection = new KafkaOffsetStore().connect({});
    await expect(rejection).rejects.toMatchObject({ name: 'ConfigError', option: 'brokers' });
    await expect(rejection).rejects.toThrow(/KafkaUtils\.createDirectStream.*new KafkaOffsetStore\(\{ brokers \}\)/);
  });

  it.each([
    [{ brokers: '' }, 'brokers'],
    [{ kafkaParams: { 'group.id': 'g' } }, "kafkaParams['group.id']"],
    [{ kafkaParams: { 'bootstrap.servers': 'h:1' } }, "kafkaParams['bootstrap.servers']"],
    [{ requestTimeoutMs: 0 }, 'requestTimeoutMs'],
  ])('rejects %j in the constructor, naming %s', (options, option) => {
    expect(() => new KafkaOffsetStore(options)).toThrow(ConfigError);
    expect(() => new KafkaOffsetStore(options)).toThrow(expect.objectContaining({ option }));
  });
});

describe('KafkaOffsetStore with a deadLetterTopic', () => {
  const letter = (offset: number) => ({
    topic: 'lines',
    partition: 1,
    offset,
    key: null,
    value: `line ${offset}`,
    operator: 'map',
    error: 'bad line',
    attempts: 3,
    batchTimeMs: 2000,
  });

  function deadLetterStore() {
    const events: string[] = [];
    const records: StateTopicRecord[] = [];
    const pending: Array<() => void> = [];
    const producer: RecordProducer = {
      connect: async () => void events.push('connect producer'),
      send: (record: OutputRecord) => {
        events.push(`send ${record.topic} ${String(record.key)}`);
        return new Promise<void>((resolve) =>
          pending.push(() => {
            events.push(`ack ${String(record.key)}`);
            records.push({ key: String(record.key), value: String(record.value) });
            resolve();
          }),
        );
      },
      disconnect: async () => void events.push('disconnect producer'),
    };
    const store = new KafkaOffsetStore(
      { brokers: '127.0.0.1:9092', deadLetterTopic: 'lines-dead' },
      () => producer,
      () => ({ ensureTopic: async (topic) => void events.push(`create ${topic}`), readAll: async () => [...records] }),
    );
    /** The broker acknowledges every record sent so far (after a turn of the event loop, so sends made meanwhile count). */
    const acknowledge = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      for (const ack of pending.splice(0)) ack();
    };
    return { store, events, acknowledge };
  }

  it('needs brokers and a valid topic name, refused at construction', () => {
    expect(() => new KafkaOffsetStore({ deadLetterTopic: 'lines-dead' })).toThrow(/brokers.*required with deadLetterTopic/);
    expect(() => new KafkaOffsetStore({ brokers: 'b:1', deadLetterTopic: '' })).toThrow(ConfigError);
    expect(new KafkaOffsetStore().writeDeadLetters).toBeUndefined();
  });

  it('creates the topic and connects a producer on connect, and closes it', async () => {
    const { store, events } = deadLetterStore();
    await store.connect({ kafka: fakeBinding().binding });
    await store.close();
    expect(events).toEqual(['create lines-dead', 'connect producer', 'disconnect producer']);
  });

  it('resolves only once the broker acknowledged every letter, which the stream awaits before committing', async () => {
    const { store, events, acknowledge } = deadLetterStore();
    await store.connect({ kafka: fakeBinding().binding });
    let isWritten = false;
    const writing = store.writeDeadLetters!('wordcount', [letter(4), letter(8)]).then(() => (isWritten = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(isWritten).toBe(false);
    await acknowledge();
    await writing;
    expect(events.slice(2)).toEqual([
      'send lines-dead ["wordcount","lines",1,4]',
      'send lines-dead ["wordcount","lines",1,8]',
      'ack ["wordcount","lines",1,4]',
      'ack ["wordcount","lines",1,8]',
    ]);
  });

  it('loads a letter written twice (a crash before the commit) once', async () => {
    const { store, acknowledge } = deadLetterStore();
    await store.connect({ kafka: fakeBinding().binding });
    const first = store.writeDeadLetters!('wordcount', [letter(4)]);
    await acknowledge();
    await first;
    const again = store.writeDeadLetters!('wordcount', [letter(4), letter(2)]);
    await acknowledge();
    await again;
    expect(await store.loadDeadLetters!('wordcount')).toEqual([letter(2), letter(4)]);
    expect(await store.loadDeadLetters!('other')).toEqual([]);
  });
});
