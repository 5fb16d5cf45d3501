// The direct stream on a listener that asks for SASL/PLAIN credentials (`scripts/services up`
// opens one on 9094; DSTREAM_KAFKA_SASL_BROKERS points elsewhere): right credentials read, wrong
// ones fail the start at once with AuthenticationError, and nothing printed shows a password.
import { inspect } from 'node:util';
import {
  AuthenticationError,
  ConfigError,
  ConsumerStrategies,
  InMemoryOffsetStore,
  KafkaUtils,
  StreamingContext,
  type StreamingEvent,
} from '@dstream/core';
import { captureOutput } from '@dstream/core/testing';
import { createTopic, produce, requireService, saslListener, services, uniqueName, waitFor } from '@dstream/test-utils';

jest.setTimeout(60_000);

const WRONG = `SaslWrong-${Math.random().toString(36).slice(2, 10)}`;
/**
 * connectTimeoutMs of the refused jobs. A refused client's metadata request runs out this timeout
 * in the background, holding one of libuv's four worker threads (see RdKafkaConsumerClient.connect).
 */
const REFUSED_TIMEOUT_MS = 3000;

function sasl(password: string, brokers = saslListener.brokers, mechanism = 'PLAIN'): Record<string, string> {
  return {
    'bootstrap.servers': brokers,
    'security.protocol': 'SASL_PLAINTEXT',
    'sasl.mechanisms': mechanism,
    'sasl.username': saslListener.username,
    'sasl.password': password,
  };
}

/** A context with one direct stream on `kafkaParams`; what it logs goes to the console, what it emits to `events`. */
function job(kafkaParams: Record<string, string>, topic: string, connectTimeoutMs = 10_000) {
  const ssc = new StreamingContext({ appName: uniqueName('sasl'), batchIntervalMs: 200, stopOnSignals: false });
  const events: StreamingEvent[] = [];
  ssc.addStreamingListener({
    onStreamingStarted: (event) => void events.push(event),
    onBatchCompleted: (event) => void events.push(event),
    onError: (event) => void events.push(event),
    onStreamingStopped: (event) => void events.push(event),
  });
  const stream = KafkaUtils.createDirectStream<string, string>(ssc, {
    kafkaParams: { ...kafkaParams, 'group.id': uniqueName('sasl-group') },
    strategy: ConsumerStrategies.Assign([{ topic, partition: 0 }]),
    offsetStore: new InMemoryOffsetStore(),
    startingOffsets: 'earliest',
    valueDeserializer: 'string',
    connectTimeoutMs,
  });
  const values: string[] = [];
  stream.foreachBatch(async (records) => void values.push(...records.map((record) => record.value)));
  return { ssc, stream, events, values };
}

let topic: string;
// Lets the refused clients' background attempts end before the next test file needs the workers.
afterAll(() => new Promise((resolve) => setTimeout(resolve, REFUSED_TIMEOUT_MS + 500)));

beforeAll(async () => {
  await requireService('Kafka', saslListener.brokers);
  topic = uniqueName('sasl-topic');
  await createTopic(topic, 1, { brokers: saslListener.brokers, config: sasl(saslListener.password) });
  await produce(topic, [0], 20, 0, sasl(saslListener.password));
});

describe('direct stream on a SASL listener', () => {
  it('reads with the right credentials', async () => {
    const { ssc, values } = job(sasl(saslListener.password), topic);
    await ssc.start();
    try {
      await waitFor(() => values.length >= 20, 30_000, 'the 20 records');
    } finally {
      await ssc.stop();
    }
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => `0:${i}`));
  });

  it('fails the start at once with AuthenticationError on wrong credentials, a SASL client on a plaintext listener or a wrong mechanism, and prints no secret', async () => {
    const output = captureOutput();
    try {
      const cases = [
        { params: sasl(WRONG), reason: /Invalid username or password/ },
        { params: sasl(WRONG, services.kafkaBrokers), reason: /handshake failed/ },
        { params: sasl(WRONG, saslListener.brokers, 'SCRAM-SHA-256'), reason: /Unsupported SASL mechanism/ },
      ];
      for (const { params, reason } of cases) {
        const { ssc, stream, events } = job(params, topic, REFUSED_TIMEOUT_MS);
        console.log(stream);
        output.record('stream', stream);
        const started = Date.now();
        const error = await ssc.start().then(
          () => new Error('the context started'),
          (thrown: unknown) => thrown,
        );
        expect(Date.now() - started).toBeLessThan(2000);
        expect(error).toBeInstanceOf(AuthenticationError);
        expect(error).toMatchObject({ service: 'kafka', address: params['bootstrap.servers'], user: saslListener.username, retriable: false });
        expect((error as Error).message).toMatch(reason);
        await ssc.awaitTermination().catch(() => undefined);
        console.error(error);
        output.record('error', error);
        output.record('events', events);
        output.record('context', ssc);
        expect(events.some((event) => event.type === 'StreamingError')).toBe(true);
      }
      // Misspelt and malformed credentials are refused before anything connects, without the value.
      for (const kafkaParams of [
        { ...sasl(saslListener.password), 'sasl.pasword': WRONG },
        { ...sasl(saslListener.password), 'sasl.password': [WRONG] as unknown as string },
      ]) {
        const ssc = new StreamingContext({ appName: uniqueName('sasl'), batchIntervalMs: 200, stopOnSignals: false });
        const create = () =>
          KafkaUtils.createDirectStream(ssc, {
            kafkaParams: { ...kafkaParams, 'group.id': 'g' },
            strategy: ConsumerStrategies.Assign([{ topic, partition: 0 }]),
            offsetStore: new InMemoryOffsetStore(),
          });
        expect(create).toThrow(ConfigError);
        try {
          create();
        } catch (error) {
          console.error(error);
          output.record('config error', error);
        }
      }
    } finally {
      output.restore();
    }
    const printed = output.text();
    expect(printed).toContain('AuthenticationError');
    expect(printed).toContain('sasl.username');
    expect(printed).not.toContain(WRONG);
    expect(printed).not.toContain(saslListener.password);
    // The shapes a reader would look for, to be sure the inspection above went deep enough.
    expect(inspect(printed)).toContain('***');
  });
});
