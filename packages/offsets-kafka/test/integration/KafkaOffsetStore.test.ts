import { ConfigError, OffsetRange, OffsetStoreError, StaleOffsetError } from '@dstream/core';
import { describeOffsetStoreContract } from '@dstream/core/testing';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';
import * as Kafka from 'node-rdkafka';
import { requireService, services, uniqueName } from '../../../core/test/integration/helpers/services';
import { ensureTopic } from './kafkaTestKit';

// The group coordinator rejects offsets of topics the cluster does not have: the contract suite's
// topics (orders 0-1, payments 0-3, payments.v2 0) must exist on the broker.
beforeAll(async () => {
  await requireService('Kafka', services.kafkaBrokers);
  await Promise.all([ensureTopic('orders', 2), ensureTopic('payments', 4), ensureTopic('payments.v2', 1)]);
}, 120_000);

async function standalone(): Promise<KafkaOffsetStore> {
  const store = new KafkaOffsetStore({ brokers: services.kafkaBrokers });
  await store.connect();
  return store;
}

describeOffsetStoreContract('KafkaOffsetStore (standalone)', { create: standalone });

describe('KafkaOffsetStore in standalone mode', () => {
  it('refuses to connect without a Kafka direct stream or brokers, naming both ways out', async () => {
    const rejection = new KafkaOffsetStore().connect();
    await expect(rejection).rejects.toBeInstanceOf(ConfigError);
    await expect(rejection).rejects.toMatchObject({ option: 'brokers' });
    await expect(rejection).rejects.toThrow(/KafkaUtils\.createDirectStream/);
  });

  it('wraps an unknown topic rejected by the group coordinator in a non-retriable OffsetStoreError', async () => {
    const store = await standalone();
    try {
      const rejection = store.commit(uniqueName('group'), [
        { range: OffsetRange.create(uniqueName('no-such-topic'), 0, 0, 5), expectedOffset: null },
      ]);
      await expect(rejection).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(rejection).rejects.toMatchObject({ retriable: false, cause: { name: 'KafkaError', code: 3 } });
    } finally {
      await store.close();
    }
  });

  it('is refused by the broker while the group has an active member, and changes nothing', async () => {
    const group = uniqueName('group');
    const store = await standalone();
    await store.commit(group, [{ range: OffsetRange.create('orders', 0, 0, 10), expectedOffset: null }]);
    const member = new Kafka.KafkaConsumer(
      { 'bootstrap.servers': services.kafkaBrokers, 'group.id': group, 'session.timeout.ms': 6000 },
      {},
    );
    await new Promise<void>((resolve, reject) => member.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())));
    try {
      member.subscribe(['orders']);
      member.setDefaultConsumeTimeout(200);
      // The member joins (and is handed partitions) inside consume calls.
      const deadline = Date.now() + 30_000;
      while (member.assignments().length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => member.consume(1, () => resolve(undefined)));
      }
      expect(member.assignments().length).toBeGreaterThan(0);

      const rejection = store.commit(group, [{ range: OffsetRange.create('orders', 0, 10, 20), expectedOffset: 10 }]);
      await expect(rejection).rejects.toBeInstanceOf(OffsetStoreError);
      await expect(rejection).rejects.not.toBeInstanceOf(StaleOffsetError);
      // 25: UNKNOWN_MEMBER_ID, the broker's answer to a commit from outside an active group.
      await expect(rejection).rejects.toMatchObject({ cause: { code: 25 } });
      expect((await store.load(group, [{ topic: 'orders', partition: 0 }])).get('orders:0')).toBe(10);
    } finally {
      await new Promise<void>((resolve) => member.disconnect(() => resolve()));
      await store.close();
    }
  });
});
