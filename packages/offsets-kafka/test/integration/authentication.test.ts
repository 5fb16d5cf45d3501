// The standalone KafkaOffsetStore and the transactional sink on the SASL/PLAIN listener: right
// credentials work, wrong ones fail at once with AuthenticationError, and nothing printed shows
// a password.
import { AuthenticationError } from '@dstream/core';
import { captureOutput } from '@dstream/core/testing';
import { KafkaOffsetStore, KafkaTransactionalSink } from '@dstream/offsets-kafka';
import { requireService, saslListener, uniqueName } from '@dstream/test-utils';

const WRONG = `SaslWrong-${Math.random().toString(36).slice(2, 10)}`;
/**
 * requestTimeoutMs (the connect timeout) of the refused clients. A refused client's metadata
 * request runs out this timeout in the background, holding one of libuv's four worker threads.
 */
const REFUSED_TIMEOUT_MS = 3000;
const sasl = (password: string) => ({
  'security.protocol': 'SASL_PLAINTEXT',
  'sasl.mechanisms': 'PLAIN',
  'sasl.username': saslListener.username,
  'sasl.password': password,
});

beforeAll(() => requireService('Kafka', saslListener.brokers));
// Lets the refused clients' background attempts end before the next test file needs the workers.
afterAll(() => new Promise((resolve) => setTimeout(resolve, REFUSED_TIMEOUT_MS + 500)));

describe('Kafka stores on a SASL listener', () => {
  it('reads group offsets with the right credentials', async () => {
    const store = new KafkaOffsetStore({ brokers: saslListener.brokers, kafkaParams: sasl(saslListener.password) });
    const group = uniqueName('sasl-store');
    const topic = uniqueName('sasl-store-topic');
    try {
      await store.connect();
      // A new group has nothing committed: the read itself is what needs the credentials.
      expect(await store.load(group, [{ topic, partition: 0 }])).toEqual(new Map());
    } finally {
      await store.close();
    }
  });

  it('fail at once with AuthenticationError on a wrong password, and print no secret', async () => {
    const output = captureOutput();
    try {
      const store = new KafkaOffsetStore({ brokers: saslListener.brokers, kafkaParams: sasl(WRONG), requestTimeoutMs: REFUSED_TIMEOUT_MS });
      await store.connect();
      const started = Date.now();
      const error = await store.load(uniqueName('sasl-store'), [{ topic: 'orders', partition: 0 }]).then(
        () => new Error('load succeeded'),
        (thrown: unknown) => thrown,
      );
      expect(Date.now() - started).toBeLessThan(2000);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error).toMatchObject({ service: 'kafka', user: saslListener.username, retriable: false });

      const sink = new KafkaTransactionalSink({
        brokers: saslListener.brokers,
        transactionalId: uniqueName('sasl-sink'),
        producerParams: sasl(WRONG),
        requestTimeoutMs: REFUSED_TIMEOUT_MS,
      });
      const sinkStarted = Date.now();
      const sinkError = await sink
        .connect({ kafka: { groupId: 'g', committed: async () => new Map(), commit: async () => undefined, groupMetadata: { groupId: 'g' } } })
        .then(
          () => new Error('connect succeeded'),
          (thrown: unknown) => thrown,
        );
      expect(Date.now() - sinkStarted).toBeLessThan(2000);
      expect(sinkError).toBeInstanceOf(AuthenticationError);
      await sink.close();

      for (const shown of [error, sinkError, store, sink]) {
        console.log(shown);
        output.record('shown', shown);
      }
      await store.close();
    } finally {
      output.restore();
    }
    const printed = output.text();
    expect(printed).toContain('Invalid username or password');
    expect(printed).not.toContain(WRONG);
  });
});
