import { ConfigError, KafkaError, OffsetRange, OffsetStoreError, StaleOffsetError, topicPartitionKey } from '@dstream/core';
import type { KafkaGroupBinding, OffsetCommit } from '@dstream/core';
import type { KafkaParams, OutputRecord, StateTopicClient, StateTopicRecord, TransactionalProducer } from '@dstream/core/internal';
import { KafkaTransactionalSink } from './KafkaTransactionalSink';

/** A producer that records the transaction calls it receives; `fail` makes one call reject. */
class FakeProducer implements TransactionalProducer {
  readonly calls: string[] = [];
  readonly sent: OutputRecord[] = [];
  readonly failures = new Map<string, KafkaError>();

  constructor(readonly config: KafkaParams) {}

  private async call(name: string): Promise<void> {
    this.calls.push(name);
    const failure = this.failures.get(name);
    if (failure) {
      this.failures.delete(name);
      throw failure;
    }
  }
  initTransactions = () => this.call('init');
  beginTransaction = () => this.call('begin');
  send = (record: OutputRecord) => {
    this.sent.push(record);
    return this.call(`send ${String(record.value)}`);
  };
  sendOffsetsToTransaction = (offsets: readonly { offset: number }[]) =>
    this.call(`offsets ${offsets.map((o) => o.offset).join(',')}`);
  commitTransaction = () => this.call('commit');
  abortTransaction = () => this.call('abort');
  disconnect = () => this.call('disconnect');
}

function fakeBinding(groupId = 'enrich'): { binding: KafkaGroupBinding; offsets: Map<string, number> } {
  const offsets = new Map<string, number>();
  return {
    offsets,
    binding: {
      groupId,
      groupMetadata: { groupId },
      committed: async (partitions) =>
        new Map(
          partitions
            .map(({ topic, partition }) => topicPartitionKey(topic, partition))
            .filter((key) => offsets.has(key))
            .map((key) => [key, offsets.get(key)!] as [string, number]),
        ),
      commit: async () => {
        throw new Error('the sink commits through its transactions only');
      },
    },
  };
}

async function connectedSink() {
  let producer!: FakeProducer;
  const sink = new KafkaTransactionalSink({ brokers: '127.0.0.1:9092', transactionalId: 'enrich-0' }, (config) => {
    producer = new FakeProducer(config);
    return producer;
  });
  const { binding, offsets } = fakeBinding();
  await sink.connect({ kafka: binding });
  return { sink, producer, offsets };
}

const range = (from: number, until: number, partition = 0): OffsetCommit => ({
  range: OffsetRange.create('orders', partition, from, until),
  expectedOffset: from === 0 ? null : from,
});

describe('KafkaTransactionalSink', () => {
  it('initializes transactions on connect with the transactional.id and transaction timeout it was given', async () => {
    const { producer } = await connectedSink();
    expect(producer.calls).toEqual(['init']);
    expect(producer.config).toMatchObject({
      'transactional.id': 'enrich-0',
      'bootstrap.servers': '127.0.0.1:9092',
      'transaction.timeout.ms': 60_000,
    });
  });

  it('sends the records, then the until offsets, then commits, all in one transaction', async () => {
    const { sink, producer } = await connectedSink();

    const result = await sink.transaction('enrich', [range(0, 10), range(0, 4, 1)], async (tx) => {
      void tx.send('orders-enriched', 'k1', 'a');
      await tx.send('orders-enriched', 'k2', 'b', { partition: 2 });
      return 'done';
    });

    expect(result).toBe('done');
    expect(producer.calls).toEqual(['init', 'begin', 'send a', 'send b', 'offsets 10,4', 'commit']);
    expect(producer.sent[1]).toMatchObject({ topic: 'orders-enriched', key: 'k2', partition: 2 });
  });

  it('aborts when the output throws, sends no offsets, and rethrows the output error as is', async () => {
    const { sink, producer } = await connectedSink();
    const failure = new Error('enrichment service down');

    await expect(
      sink.transaction('enrich', [range(0, 10)], async (tx) => {
        void tx.send('orders-enriched', null, 'a');
        throw failure;
      }),
    ).rejects.toBe(failure);

    expect(producer.calls).toEqual(['init', 'begin', 'send a', 'abort']);
  });

  it('aborts when a record is not acknowledged, even one the output did not await', async () => {
    const { sink, producer } = await connectedSink();
    producer.failures.set('send b', new KafkaError('produce to out: Broker: Message too large', { code: 10 }));

    const rejection = sink.transaction('enrich', [range(0, 10)], async (tx) => {
      void tx.send('out', null, 'a');
      void tx.send('out', null, 'b');
    });

    await expect(rejection).rejects.toBeInstanceOf(OffsetStoreError);
    await expect(rejection).rejects.toThrow(/Message too large/);
    expect(producer.calls.slice(-1)).toEqual(['abort']);
  });

  it('checks the expected offsets before beginning, and begins nothing when they are stale', async () => {
    const { sink, producer, offsets } = await connectedSink();
    offsets.set('orders:0', 12);

    await expect(sink.transaction('enrich', [range(10, 20)], async () => undefined)).rejects.toBeInstanceOf(
      StaleOffsetError,
    );
    expect(producer.calls).toEqual(['init']);
  });

  it('commits offsets without records as an empty transaction', async () => {
    const { sink, producer } = await connectedSink();
    await sink.commit('enrich', [range(0, 3)]);
    expect(producer.calls).toEqual(['init', 'begin', 'offsets 3', 'commit']);
  });

  it('repeats a commit that timed out in the same transaction', async () => {
    const { sink, producer } = await connectedSink();
    producer.failures.set('commit', new KafkaError('commit the transaction: Local: Timed out', { code: -185, retriable: true }));

    await sink.transaction('enrich', [range(0, 3)], async () => undefined);

    expect(producer.calls).toEqual(['init', 'begin', 'offsets 3', 'commit', 'commit']);
  });

  it('refuses every later transaction with a non-retriable error once a newer producer fenced it', async () => {
    const { sink, producer } = await connectedSink();
    const fenced = new KafkaError('send offsets to the transaction: Local: This instance has been fenced by a newer instance', {
      code: -144,
      isFatal: true,
    });
    producer.failures.set('offsets 3', fenced);

    const first = sink.transaction('enrich', [range(0, 3)], async () => undefined);
    await expect(first).rejects.toMatchObject({ retriable: false, cause: fenced });
    await expect(first).rejects.toThrow(/fenced it/);
    await expect(sink.transaction('enrich', [range(0, 3)], async () => undefined)).rejects.toThrow(/fenced it/);
    // A fenced producer cannot abort; the sink does not try.
    expect(producer.calls).toEqual(['init', 'begin', 'offsets 3']);
  });

  it('rejects a send made after the batch transaction ended', async () => {
    const { sink } = await connectedSink();
    let kept: ((value: string) => Promise<void>) | undefined;
    await sink.transaction('enrich', [range(0, 3)], async (tx) => {
      kept = (value) => tx.send('out', null, value);
    });
    await expect(kept!('late')).rejects.toThrow(/transaction is over/);
  });

  it.each([
    [{ brokers: '', transactionalId: 't' }, 'brokers'],
    [{ brokers: 'h:1', transactionalId: '' }, 'transactionalId'],
    [{ brokers: 'h:1', transactionalId: 't', producerParams: { 'transactional.id': 'x' } }, "producerParams['transactional.id']"],
    [{ brokers: 'h:1', transactionalId: 't', producerParams: { acks: 1 } }, "producerParams['acks']"],
    [{ brokers: 'h:1', transactionalId: 't', transactionTimeoutMs: -1 }, 'transactionTimeoutMs'],
  ])('rejects %j in the constructor, naming %s', (options, option) => {
    expect(() => new KafkaTransactionalSink(options)).toThrow(ConfigError);
    expect(() => new KafkaTransactionalSink(options)).toThrow(expect.objectContaining({ option }));
  });

  it('refuses to connect without a Kafka direct stream, before creating a producer', async () => {
    const create = jest.fn();
    const sink = new KafkaTransactionalSink({ brokers: 'h:1', transactionalId: 't' }, create);
    await expect(sink.connect()).rejects.toBeInstanceOf(ConfigError);
    expect(create).not.toHaveBeenCalled();
  });

  describe('with a stateTopic', () => {
    /** A state topic in memory: what committed transactions produced to it, and the topics created. */
    function fakeStateTopic() {
      const records: StateTopicRecord[] = [];
      const created: string[] = [];
      const client: StateTopicClient = {
        ensureTopic: async (topic) => void created.push(topic),
        readAll: async () => [...records],
      };
      return { records, created, client };
    }

    async function statefulSink() {
      let producer!: FakeProducer;
      const topic = fakeStateTopic();
      const sink = new KafkaTransactionalSink(
        { brokers: '127.0.0.1:9092', transactionalId: 'enrich-0', stateTopic: 'enrich-state' },
        (config) => {
          producer = new FakeProducer(config);
          return producer;
        },
        () => topic.client,
      );
      const { binding, offsets } = fakeBinding();
      await sink.connect({ kafka: binding });
      // What a committed transaction made visible: the fake producer's sends up to its commit.
      const publish = () => {
        for (const record of producer.sent.splice(0)) {
          if (record.topic === 'enrich-state') topic.records.push({ key: String(record.key), value: record.value === null ? null : String(record.value) });
        }
      };
      return { sink, producer: () => producer, offsets, topic, publish };
    }

    const write = (upserts: [unknown, unknown][], removals: unknown[] = []) => [
      { operator: 'totals', kind: 'mapWithState', stateVersion: 1, upserts, removals },
    ];

    it('keeps no state without a stateTopic', async () => {
      const { sink } = await connectedSink();
      expect(sink.supportsState).toBe(false);
    });

    it('creates the state topic on connect and refuses a name Kafka would refuse', async () => {
      const { sink, topic } = await statefulSink();
      expect(sink.supportsState).toBe(true);
      expect(topic.created).toEqual(['enrich-state']);
      expect(() => new KafkaTransactionalSink({ brokers: 'b:9092', transactionalId: 'x', stateTopic: 'no spaces' })).toThrow(ConfigError);
    });

    it('produces the state changes in the batch transaction, after the output and before the offsets', async () => {
      const { sink, producer } = await statefulSink();
      await sink.transaction(
        'enrich',
        [range(0, 5)],
        async (tx) => {
          await tx.send('out', null, 'result');
        },
        () => write([['alice', 3]], ['bob']),
      );
      expect(producer().calls).toEqual([
        'init',
        'begin',
        'send result',
        'send {"v":1,"operator":"totals","kind":"mapWithState","stateVersion":1}',
        'send {"v":1,"operator":"totals","key":"alice","value":3}',
        'send null',
        'offsets 5',
        'commit',
      ]);
      expect(producer().sent.filter((r) => r.topic === 'enrich-state').map((r) => r.key)).toEqual([
        '["enrich","totals","!meta"]',
        '["enrich","totals","\\"alice\\""]',
        '["enrich","totals","\\"bob\\""]',
      ]);
    });

    it('loads the last value of each key of the operator, without removed keys or other groups and operators', async () => {
      const { sink, topic, publish, offsets } = await statefulSink();
      await sink.commit('enrich', [range(0, 5)], write([['alice', 1], ['bob', 2]]));
      // The fake group does not see the transaction's offsets by itself.
      offsets.set(topicPartitionKey('orders', 0), 5);
      await sink.commit('enrich', [range(5, 9)], write([['alice', 4]], ['bob']));
      publish();
      topic.records.push({ key: JSON.stringify(['other-group', 'totals', '"carol"']), value: '{}' }, { key: 'not json', value: 'x' });
      expect(await sink.loadState('enrich', 'totals')).toEqual({ kind: 'mapWithState', stateVersion: 1, entries: [['alice', 4]] });
      expect(await sink.loadState('enrich', 'sessions')).toBeUndefined();
    });

    it('writes no state when the offsets are stale', async () => {
      const { sink, producer, offsets } = await statefulSink();
      offsets.set(topicPartitionKey('orders', 0), 7);
      await expect(sink.commit('enrich', [range(5, 9)], write([['alice', 1]]))).rejects.toBeInstanceOf(StaleOffsetError);
      expect(producer().sent).toEqual([]);
    });
  });
});
