/**
 * The plumbing every Kafka client file shares: library calls that throw or take node-style
 * callbacks turned into `KafkaError`s and promises, a timeout, and connecting a client while
 * watching for the brokers refusing it. Only the Kafka client files (`KafkaClient.ts` and its
 * siblings) use it.
 */
import type * as Kafka from 'node-rdkafka';
import { AuthenticationError, KafkaError } from '../errors';
import type { KafkaParams } from './kafkaCapabilities';
import { kafkaAuthenticationError, kafkaAuthenticationFailure, toKafkaError } from './kafkaErrors';

/** Calls a library method, turning a throw into a `KafkaError`. */
export function wrapSync<T>(operation: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw toKafkaError(error, operation);
  }
}

/** Adapts a node-style callback API to a promise that rejects with a `KafkaError`. */
export function callback<T>(operation: string, start: (done: (error: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((error, value) => (error ? reject(toKafkaError(error, operation)) : resolve(value as T)));
    } catch (error) {
      reject(toKafkaError(error, operation));
    }
  });
}

/** Waits for `promise` at most `timeoutMs`, then rejects with `onTimeout()`. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Connects a client, rejecting with a retriable `KafkaError` that names the brokers, or at once
 * with an `AuthenticationError` when librdkafka reports that the brokers refused the client
 * (credentials, SASL mechanism, TLS handshake; see core's `kafkaAuthenticationFailure`).
 */
export async function connectClient(
  client: Kafka.Client<string>,
  brokers: string,
  timeoutMs: number,
  config: KafkaParams,
): Promise<void> {
  let onRefused: ((reason: string, cause: unknown) => void) | undefined;
  const refused = new Promise<never>((_, reject) => {
    onRefused = (reason, cause) => reject(kafkaAuthenticationError(brokers, config, reason, cause));
  });
  const onEvent = (event: unknown) => {
    const reason = kafkaAuthenticationFailure(event);
    if (reason !== undefined) onRefused?.(reason, event instanceof Error ? event : undefined);
  };
  client.on('event.log', onEvent);
  client.on('event.error', onEvent);
  const connected = callback<void>(`connect to Kafka at ${brokers}`, (done) =>
    client.connect({ timeout: timeoutMs }, (error) => done(error)),
  );
  connected.catch(() => undefined);
  try {
    await Promise.race([connected, refused]);
  } catch (error) {
    // The refused attempt ends on its own when its metadata request times out (see `RdKafkaConsumerClient.connect`).
    if (error instanceof AuthenticationError) throw error;
    throw new KafkaError(
      `could not reach Kafka at ${brokers} within ${timeoutMs} ms: ${(error as Error).message}. ` +
        'Check the brokers option and that the brokers are up',
      { retriable: true, cause: error, code: (error as KafkaError).code },
    );
  } finally {
    onRefused = undefined;
    client.off('event.log', onEvent);
    client.off('event.error', onEvent);
  }
}
