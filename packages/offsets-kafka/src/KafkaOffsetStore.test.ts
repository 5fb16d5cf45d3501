import { ConfigError, KafkaError, OffsetRange, OffsetStoreError, StaleOffsetError, topicPartitionKey } from '@dstream/core';
import type { KafkaGroupBinding, OffsetCommit, TopicPartitionOffset } from '@dstream/core';
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
