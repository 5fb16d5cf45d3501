import { AuthenticationError, ConfigError } from '../errors';
import {
  createKafkaConsumer,
  createTransactionalProducer,
  kafkaAuthenticationError,
  kafkaAuthenticationFailure,
  toKafkaError,
} from './KafkaClient';

// librdkafka 2.x's FAIL log lines and error events, as seen against a broker with a SASL/PLAIN
// listener (wrong password, SASL client on the plaintext listener, wrong mechanism, plaintext
// client on the SASL listener).
const line = (message: string, severity = 3) => ({ severity, fac: 'FAIL', message });
const WRONG_PASSWORD = line(
  '[thrd:sasl_plaintext://127.0.0.1:9094/bootstrap]: sasl_plaintext://127.0.0.1:9094/bootstrap: SASL authentication error: ' +
    'Authentication failed: Invalid username or password (after 303ms in state AUTH_REQ)',
);
const SASL_ON_PLAINTEXT = line(
  "[thrd:sasl_plaintext://127.0.0.1:9092/bootstrap]: sasl_plaintext://127.0.0.1:9092/bootstrap: SASL PLAIN mechanism handshake failed: " +
    "Broker: Request not valid in current SASL state: broker's supported mechanisms:  (after 1ms in state AUTH_HANDSHAKE)",
);
const WRONG_MECHANISM = line(
  '[thrd:sasl_plaintext://127.0.0.1:9094/bootstrap]: sasl_plaintext://127.0.0.1:9094/bootstrap: SASL SCRAM-SHA-256 mechanism ' +
    "handshake failed: Broker: Unsupported SASL mechanism: broker's supported mechanisms: PLAIN (after 301ms in state AUTH_HANDSHAKE)",
);
const TLS = line('[thrd:ssl://127.0.0.1:9093/bootstrap]: ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed');
const PLAINTEXT_ON_SASL = line(
  '[thrd:127.0.0.1:9094/bootstrap]: 127.0.0.1:9094/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 1ms in state UP)',
  4,
);

describe('kafkaAuthenticationFailure', () => {
  it('recognizes refused SASL credentials, mechanisms and TLS handshakes, and says why without the thread prefix', () => {
    expect(kafkaAuthenticationFailure(WRONG_PASSWORD)).toBe(
      'SASL authentication error: Authentication failed: Invalid username or password (after 303ms in state AUTH_REQ)',
    );
    expect(kafkaAuthenticationFailure(SASL_ON_PLAINTEXT)).toMatch(/^SASL PLAIN mechanism handshake failed: /);
    expect(kafkaAuthenticationFailure(WRONG_MECHANISM)).toMatch(/^SASL SCRAM-SHA-256 mechanism handshake failed: .*Unsupported/);
    expect(kafkaAuthenticationFailure(TLS)).toMatch(/^SSL handshake failed/);
    expect(kafkaAuthenticationFailure({ message: 'authentication failure', code: -1 })).toBe('authentication failure');
    expect(kafkaAuthenticationFailure({ message: 'Broker: SASL authentication failed', code: 58 })).toBeDefined();
  });

  it('leaves everything else alone: lost connections, debug lines, non-events', () => {
    expect(kafkaAuthenticationFailure(PLAINTEXT_ON_SASL)).toBeUndefined();
    expect(kafkaAuthenticationFailure({ message: 'all broker connections are down', code: -1 })).toBeUndefined();
    expect(kafkaAuthenticationFailure(line('SASL authentication error: x', 7))).toBeUndefined();
    expect(kafkaAuthenticationFailure(undefined)).toBeUndefined();
  });
});

describe('kafkaAuthenticationError', () => {
  it('names the brokers, the user and the security settings, never the password', () => {
    const error = kafkaAuthenticationError(
      '127.0.0.1:9094',
      { 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'PLAIN', 'sasl.username': 'app', 'sasl.password': 'Pw-4711' },
      'SASL authentication error: Authentication failed',
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ service: 'kafka', address: '127.0.0.1:9094', user: 'app', retriable: false });
    expect(error.message).toContain('security.protocol SASL_PLAINTEXT, sasl.mechanisms PLAIN');
    expect(error.message).not.toContain('Pw-4711');
  });
});

describe('toKafkaError', () => {
  it('never marks a refusal retriable, and keeps only what identifies the library error', () => {
    const library = Object.assign(new Error('Local: Authentication failure'), { code: -169, isRetriable: true, config: { 'sasl.password': 'Pw-4711' } });
    const error = toKafkaError(library, 'connect');
    expect(error.retriable).toBe(false);
    expect(error.cause).toMatchObject({ message: 'Local: Authentication failure', code: -169 });
    expect((error.cause as { config?: unknown }).config).toBeUndefined();
  });
});

describe('GroupMetadata', () => {
  it("is lent by a consumer as an object holding only its group id, never the library's consumer", () => {
    const consumer = createKafkaConsumer({ 'bootstrap.servers': '127.0.0.1:1', 'group.id': 'orders' });
    expect(Object.keys(consumer.groupMetadata)).toEqual(['groupId']);
    expect(consumer.groupMetadata).toEqual({ groupId: 'orders' });
    expect(consumer.groupMetadata).toBe(consumer.groupMetadata);
  });

  it('is refused by a transactional producer unless a consumer made by the client module lent it', async () => {
    const producer = createTransactionalProducer({ 'bootstrap.servers': '127.0.0.1:1', 'transactional.id': 'tx' });
    const sent = producer.sendOffsetsToTransaction([{ topic: 't', partition: 0, offset: 1 }], { groupId: 'orders' }, 1000);
    await expect(sent).rejects.toBeInstanceOf(ConfigError);
    await expect(sent).rejects.toThrow(/binding\.kafka\.groupMetadata/);
    await producer.disconnect();
  });
});
