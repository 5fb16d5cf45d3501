/**
 * How the Kafka client library's failures become dstream errors: every library error as a
 * `KafkaError` with its code and retriable flag, and a refused client as an `AuthenticationError`.
 */
import { AuthenticationError, KafkaError } from '../errors';
import { driverError } from '../util/redact';

/**
 * Codes worth retrying even when librdkafka does not flag them: plain error codes (as opposed to
 * rd_kafka_error_t objects) carry no retriable flag, yet timeouts, lost connections and
 * coordinator moves pass on their own.
 */
const TRANSIENT_CODES = new Set([
  -195 /* _TRANSPORT */, -187 /* _ALL_BROKERS_DOWN */, -185 /* _TIMED_OUT */, -180 /* _WAIT_COORD */,
  -184 /* _QUEUE_FULL */, 5 /* LEADER_NOT_AVAILABLE */, 6 /* NOT_LEADER_FOR_PARTITION */, 7 /* REQUEST_TIMED_OUT */,
  13 /* NETWORK_EXCEPTION */, 14 /* COORDINATOR_LOAD_IN_PROGRESS */, 15 /* COORDINATOR_NOT_AVAILABLE */,
  16 /* NOT_COORDINATOR */, 27 /* REBALANCE_IN_PROGRESS */,
]);

/** Wraps whatever the client library threw or passed to a callback in a `KafkaError` saying what was attempted. */
export function toKafkaError(error: unknown, operation: string): KafkaError {
  if (error instanceof KafkaError) return error;
  const lib = (error ?? {}) as { message?: string; code?: number; isFatal?: boolean; isRetriable?: boolean };
  const code = typeof lib.code === 'number' ? lib.code : undefined;
  const message = typeof lib.message === 'string' && lib.message.length > 0 ? lib.message : String(error);
  return new KafkaError(`${operation}: ${message}${code === undefined ? '' : ` (librdkafka code ${code})`}`, {
    code,
    isFatal: lib.isFatal === true,
    retriable:
      lib.isFatal !== true &&
      !AUTHENTICATION_CODES.has(code ?? 0) &&
      (lib.isRetriable === true || (code !== undefined && TRANSIENT_CODES.has(code))),
    cause: driverError(error),
  });
}

/**
 * Codes of a refused client: librdkafka's _AUTHENTICATION (-169) and _SSL (-181), the broker's
 * TOPIC/GROUP/CLUSTER_AUTHORIZATION_FAILED (29-31), UNSUPPORTED_SASL_MECHANISM (33),
 * ILLEGAL_SASL_STATE (34), TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), SASL_AUTHENTICATION_FAILED (58).
 */
const AUTHENTICATION_CODES = new Set([-169, -181, 29, 30, 31, 33, 34, 53, 58]);

/**
 * What librdkafka says when a broker refuses the client's SASL credentials or mechanism, or the
 * TLS handshake fails. Its error *events* carry only "authentication failure" and are queued until
 * the client is polled, which during `connect` is after the whole connect timeout; its FAIL *log*
 * lines arrive at once and say why ("SASL authentication error: Authentication failed: Invalid
 * username or password", "SASL PLAIN mechanism handshake failed: … broker's supported mechanisms",
 * "SSL handshake failed: …").
 */
const AUTHENTICATION_FAILURE =
  /SASL authentication error|SASL [\w-]+ mechanism handshake failed|SASL handshake failed|authentication failure|Authentication failed|SSL handshake failed|certificate verify failed|Authorization failed/i;

/**
 * The reason, when a librdkafka error event, error or FAIL log line (`{ severity, fac, message }`)
 * means the brokers refused the client (credentials, SASL mechanism, TLS handshake, ACLs);
 * undefined for anything else. Used at connect, so that a refusal is reported as an
 * `AuthenticationError` at once instead of "could not reach Kafka" after the timeout.
 */
export function kafkaAuthenticationFailure(event: unknown): string | undefined {
  const { message, code, severity } = (event ?? {}) as { message?: unknown; code?: unknown; severity?: unknown };
  if (typeof message !== 'string') return undefined;
  // Log lines: errors (3) and worse only; debug lines mention SASL on every successful handshake too.
  if (typeof severity === 'number' && severity > 3) return undefined;
  if (!(typeof code === 'number' && AUTHENTICATION_CODES.has(code)) && !AUTHENTICATION_FAILURE.test(message)) return undefined;
  // "[thrd:sasl_plaintext://host:port/bootstrap]: sasl_plaintext://host:port/bootstrap: <reason>"
  return message.replace(/^\[thrd:[^\]]*\]:\s*/, '').replace(/^[a-z_]+:\/\/[^\s]*:\s*/i, '').replace(/^\S+\/bootstrap:\s*/, '');
}

/** Builds the `AuthenticationError` of a refused Kafka client. */
export function kafkaAuthenticationError(
  brokers: string,
  config: Readonly<Record<string, unknown>>,
  reason: string,
  cause?: unknown,
): AuthenticationError {
  const user = typeof config['sasl.username'] === 'string' ? (config['sasl.username'] as string) : undefined;
  const protocol = String(config['security.protocol'] ?? 'plaintext');
  const mechanism = config['sasl.mechanisms'] ?? config['sasl.mechanism'];
  const how = `security.protocol ${protocol}${mechanism === undefined ? '' : `, sasl.mechanisms ${String(mechanism)}`}`;
  return new AuthenticationError(
    'kafka',
    brokers,
    user,
    `${reason} (${how})`,
    "Check sasl.username and sasl.password, and that security.protocol and sasl.mechanisms match the broker's listener " +
      '(a SASL client on a plaintext listener fails the handshake); trying again with the same settings fails the same way',
    { cause: cause === undefined ? undefined : driverError(cause) },
  );
}
