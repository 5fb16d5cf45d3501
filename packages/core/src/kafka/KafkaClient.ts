/**
 * The one module that talks to the Kafka client library (node-rdkafka, librdkafka 2.x). Everything
 * else in dstream sees the small promise-based interfaces below, and every library error arrives
 * as a `KafkaError`, so moving to `@confluentinc/kafka-javascript` (same API) touches this file only.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as Kafka from 'node-rdkafka';
import { AuthenticationError, KafkaError } from '../errors';
import type { TopicPartition } from '../offsets/OffsetRange';
import { REDACTED, driverError, isSecretKey, redactedView } from '../util/redact';

/** A topic-partition and an offset (or, for `offsetsForTimes`, a timestamp in ms). */
export interface TopicPartitionOffset extends TopicPartition {
  readonly offset: number;
}

/** One record header as the client delivers it. */
export interface KafkaHeader {
  readonly key: string;
  readonly value: Buffer;
}

/** Where a fetched record sits in the log: all a record built by a `RecordBuilder` must keep. */
export interface FetchedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/**
 * Builds the caller's record from one fetched record's fields (`timestamp`: create or log-append
 * time in ms since the epoch, -1 when the broker sent none). The adapter calls it once per record
 * and makes no object of its own, so a record costs one allocation, not two. It must not throw.
 */
export type RecordBuilder<R extends FetchedRecord> = (
  topic: string,
  partition: number,
  offset: number,
  key: Buffer | null,
  value: Buffer | null,
  timestamp: number,
  headers: readonly KafkaHeader[],
) => R;

/** What one `consume` call returned: records, and partitions found at their log end (with that offset). */
export interface ConsumeResult<R extends FetchedRecord> {
  readonly messages: readonly R[];
  /** Bytes of each message's key and value as fetched, in the order of `messages`: what the fetcher's memory bounds count. */
  readonly sizes: ArrayLike<number>;
  readonly endsReached: readonly TopicPartitionOffset[];
}

/** The log's bounds: `low` is the first offset still stored, `high` the next offset to be written. */
export interface WatermarkOffsets {
  readonly low: number;
  readonly high: number;
}

/** Topics and their partition ids, as the cluster's metadata reports them. */
export interface ClusterMetadata {
  readonly topics: ReadonlyArray<{ readonly name: string; readonly partitions: readonly number[] }>;
}

/** A consumer-group rebalance: partitions handed to this member, or taken from it. */
export interface RebalanceEvent {
  readonly type: 'assign' | 'revoke';
  readonly partitions: readonly TopicPartition[];
}

/**
 * The consumer operations dstream needs, promise-based. Synchronous methods throw `KafkaError`;
 * asynchronous ones reject with it.
 */
export interface KafkaConsumerClient {
  /** `bootstrap.servers`, for error messages. */
  readonly brokers: string;
  /** The library's consumer object, lent to offset stores that commit through the group. */
  readonly raw: unknown;
  /** Connects and reads cluster metadata, rejecting with a `KafkaError` naming the brokers after `timeoutMs`. */
  connect(timeoutMs: number): Promise<void>;
  /** Metadata for all topics of the cluster. */
  getMetadata(timeoutMs: number): Promise<ClusterMetadata>;
  /**
   * Asks the partition leader for the log's current bounds. A blocking call on a libuv threadpool
   * thread that waits behind the consumer's in-flight fetch: prefer `cachedWatermarkOffsets`.
   */
  queryWatermarkOffsets(partition: TopicPartition, timeoutMs: number): Promise<WatermarkOffsets>;
  /**
   * The log's bounds as the last fetch response for the partition reported them, without asking
   * the broker; undefined until a fetch of the partition returned. Stale by up to one fetch (and
   * frozen while the partition is paused): the log may have grown since, never shrunk below it
   * unless truncated.
   */
  cachedWatermarkOffsets(partition: TopicPartition): WatermarkOffsets | undefined;
  /** For each partition (offset = a timestamp in ms), the first offset whose record time is at or after it; -1: none. */
  offsetsForTimes(partitions: readonly TopicPartitionOffset[], timeoutMs: number): Promise<TopicPartitionOffset[]>;
  /** Replaces the assignment; fetching starts at the given offsets. */
  assign(partitions: readonly TopicPartitionOffset[]): void;
  /** Removes the whole assignment. */
  unassign(): void;
  /** Adds partitions to the assignment (cooperative protocol). */
  incrementalAssign(partitions: readonly TopicPartitionOffset[]): void;
  /** Removes partitions from the assignment (cooperative protocol). */
  incrementalUnassign(partitions: readonly TopicPartition[]): void;
  /** `EAGER`, `COOPERATIVE`, or `NONE` before the consumer joined a group. */
  rebalanceProtocol(): string;
  /**
   * Joins the group for these topics (a RegExp subscribes to every matching topic). The library
   * does not assign on its own: `onRebalance` must answer each event with assign/unassign.
   */
  subscribe(topics: ReadonlyArray<string | RegExp>, onRebalance: (event: RebalanceEvent) => void): void;
  /**
   * Waits up to `timeoutMs` for up to `maxMessages` records of the assigned, unpaused partitions,
   * each made by `build`.
   */
  consume<R extends FetchedRecord>(maxMessages: number, timeoutMs: number, build: RecordBuilder<R>): Promise<ConsumeResult<R>>;
  /** Stops fetching these partitions until `resume`. */
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  /** Moves an assigned partition's fetch position; records buffered in the client from the old position are dropped. */
  seek(position: TopicPartitionOffset, timeoutMs: number): Promise<void>;
  /** The next offset the client will return for each partition (-1001: not yet known). */
  position(partitions: readonly TopicPartition[]): TopicPartitionOffset[];
  /** Commits offsets (next offset to read) to the consumer group and waits for the broker's answer. */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** The group's committed offsets; a partition with none is reported with a negative offset. */
  committed(partitions: readonly TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]>;
  /** Leaves the group and closes connections. Idempotent. */
  disconnect(): Promise<void>;
}

/** Why librdkafka, or its documentation, refuses one property of a consumer configuration. */
export interface KafkaConfigRefusal {
  /** The property refused. */
  readonly property: string;
  /**
   * `unknown`: this librdkafka has no such property; `invalid`: it refuses the value;
   * `producer-only`: a producer property, which a consumer would ignore.
   */
  readonly kind: 'unknown' | 'invalid' | 'producer-only';
  /** librdkafka's own words, with a secret property's value replaced by `***`. */
  readonly reason: string;
}

/** The librdkafka version the client library runs on, e.g. `2.12.0`. */
export const LIBRDKAFKA_VERSION: string = Kafka.librdkafkaVersion;

const NO_SUCH_PROPERTY = /No such configuration property: "([^"]+)"/;
const PROPERTY_NAMED = /configuration property "([^"]+)"/i;

/**
 * Checks a consumer configuration with librdkafka itself, so any property of the linked
 * librdkafka is accepted, including ones newer than dstream. Building a node-rdkafka
 * `KafkaConsumer` sets every property through `rd_kafka_conf_set`, which refuses unknown names
 * and invalid values, and throws; the client only starts threads and connects in `connect()`,
 * so this has no side effect. librdkafka accepts a producer property in a consumer's
 * configuration and ignores it with a warning at connect: those are refused here too, as the
 * documentation shipped with the library marks them.
 */
export function checkConsumerConfig(config: Readonly<Record<string, unknown>>): KafkaConfigRefusal | undefined {
  try {
    new Kafka.KafkaConsumer(config as Kafka.ConsumerGlobalConfig, {});
  } catch (error) {
    const text = (error instanceof Error ? error.message : String(error)).trim();
    const unknown = NO_SUCH_PROPERTY.exec(text);
    if (unknown !== null) return { property: unknown[1], kind: 'unknown', reason: text };
    const named = PROPERTY_NAMED.exec(text);
    const property = named?.[1] ?? '';
    return { property, kind: 'invalid', reason: withoutSecretValue(text, property, config[property]) };
  }
  for (const property of Object.keys(config)) {
    if (documentedRoles().get(property) === 'P') {
      return {
        property,
        kind: 'producer-only',
        reason: `"${property}" is a producer property; a consumer ignores it`,
      };
    }
  }
  return undefined;
}

/**
 * The consumer-side property names (global and topic level) that the linked librdkafka
 * documents, for "did you mean" suggestions. Empty when the library ships no CONFIGURATION.md
 * (e.g. built against a system librdkafka).
 */
export function documentedConsumerProperties(): readonly string[] {
  return [...documentedRoles()].filter(([, role]) => role !== 'P').map(([name]) => name);
}

/** librdkafka's message with the value of a secret property replaced by `***`. */
function withoutSecretValue(text: string, property: string, value: unknown): string {
  if (!isSecretKey(property) || value === undefined || String(value) === '') return text;
  return text.split(String(value)).join(REDACTED);
}

let roles: ReadonlyMap<string, string> | undefined;

/**
 * Property name to its `C/P` column (`*` both, `C` consumer, `P` producer), read once from the
 * CONFIGURATION.md installed with the library node-rdkafka built, else from its librdkafka
 * sources: the documentation of the very version that validates the configuration.
 */
function documentedRoles(): ReadonlyMap<string, string> {
  if (roles !== undefined) return roles;
  const found = new Map<string, string>();
  const root = dirname(dirname(require.resolve('node-rdkafka')));
  for (const candidate of ['build/deps/share/doc/librdkafka/CONFIGURATION.md', 'deps/librdkafka/CONFIGURATION.md']) {
    let text: string;
    try {
      text = readFileSync(join(root, candidate), 'utf8');
    } catch {
      continue;
    }
    for (const match of text.matchAll(/^([a-z][\w.]*)\s*\|\s*([*CP])\s*\|/gm)) {
      if (!found.has(match[1])) found.set(match[1], match[2]);
    }
    break;
  }
  roles = found;
  return roles;
}

/** librdkafka's code for "assign these partitions" in a rebalance callback. */
const ERR_ASSIGN_PARTITIONS = -175;
/** librdkafka's sentinel for an offset not known yet (e.g. a position before the first fetch). */
export const OFFSET_INVALID = -1001;

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

/** Calls a library method, turning a throw into a `KafkaError`. */
function wrapSync<T>(operation: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw toKafkaError(error, operation);
  }
}

/** Adapts a node-style callback API to a promise that rejects with a `KafkaError`. */
function callback<T>(operation: string, start: (done: (error: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((error, value) => (error ? reject(toKafkaError(error, operation)) : resolve(value as T)));
    } catch (error) {
      reject(toKafkaError(error, operation));
    }
  });
}

/** Waits for `promise` at most `timeoutMs`, then rejects with `onTimeout()`. */
function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Shared by every record without headers, the common case: no array per record. */
const NO_HEADERS: readonly KafkaHeader[] = Object.freeze([]);

/** A message as node-rdkafka's native `consume` hands it over (`size`: the value's length in bytes). */
interface NativeMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key?: Buffer | string | null;
  readonly value?: Buffer | null;
  readonly size: number;
  readonly timestamp?: number;
  readonly headers?: Kafka.MessageHeader[];
}

/** An end-of-partition event of node-rdkafka's native `consume`: the partition's end offset, after which message it came. */
interface NativeEofEvent {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly messageIndex: number;
}

/** The binding under node-rdkafka's `KafkaConsumer` (`_client`), whose batch `consume` the JS class wraps. */
interface NativeConsumer {
  consume(
    timeoutMs: number,
    maxMessages: number,
    done: (error: unknown, messages: NativeMessage[], eofEvents: NativeEofEvent[]) => void,
  ): void;
}

/**
 * Builds each message's record with `build`, in place of the library's message objects, and
 * notes its key and value bytes in `sizes`.
 */
function toRecords<R extends FetchedRecord>(messages: readonly NativeMessage[], build: RecordBuilder<R>, sizes: Uint32Array): R[] {
  const records = new Array<R>(messages.length);
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index];
    const rawKey = message.key;
    const key = rawKey === undefined || rawKey === null ? null : typeof rawKey === 'string' ? Buffer.from(rawKey) : rawKey;
    sizes[index] = message.size + (key === null ? 0 : key.length);
    records[index] = build(
      message.topic,
      message.partition,
      message.offset,
      key,
      message.value ?? null,
      message.timestamp ?? -1,
      message.headers === undefined || message.headers.length === 0 ? NO_HEADERS : toHeaders(message.headers),
    );
  }
  return records;
}

function toHeaders(headers: readonly Kafka.MessageHeader[]): KafkaHeader[] {
  const result: KafkaHeader[] = [];
  for (const header of headers) {
    for (const [key, value] of Object.entries(header)) {
      result.push({ key, value: Buffer.isBuffer(value) ? value : Buffer.from(value) });
    }
  }
  return result;
}

/**
 * librdkafka treats a subscription entry as a regular expression only when it starts with `^`. A
 * JavaScript RegExp matches anywhere in the name, so an unanchored source gets `^.*` in front.
 */
function toSubscription(topic: string | RegExp): string {
  if (typeof topic === 'string') return topic;
  return topic.source.startsWith('^') ? topic.source : `^.*${topic.source}`;
}

/** A commit sent asynchronously, waiting for librdkafka's answer (`offset_commit_cb`). */
interface PendingCommit {
  readonly offsets: readonly TopicPartitionOffset[];
  resolve(): void;
  reject(error: KafkaError): void;
}

/** Whether an `offset_commit_cb` report is about exactly these offsets (in any order). */
function sameOffsets(reported: readonly Kafka.TopicPartitionOffset[], offsets: readonly TopicPartitionOffset[]): boolean {
  if (reported.length !== offsets.length) return false;
  return offsets.every(({ topic, partition, offset }) =>
    reported.some((r) => r.topic === topic && r.partition === partition && r.offset === offset),
  );
}

class RdKafkaConsumerClient implements KafkaConsumerClient {
  readonly brokers: string;
  private readonly consumer: Kafka.KafkaConsumer;
  /** `consume` calls under way: while one is, librdkafka serves commit answers (see `commit`). */
  private consumesInFlight = 0;
  /** Asynchronous commits waiting for their answer, oldest first. */
  private readonly pendingCommits: PendingCommit[] = [];
  private onRebalance: ((event: RebalanceEvent) => void) | undefined;
  private lastError: Kafka.LibrdKafkaError | undefined;
  private disconnecting: Promise<void> | undefined;
  /** Told when librdkafka reports that the brokers refused this client (while `connect` waits). */
  private onRefused: ((reason: string, cause: unknown) => void) | undefined;

  constructor(private readonly config: Readonly<Record<string, unknown>>) {
    this.brokers = String(config['bootstrap.servers'] ?? config['metadata.broker.list']);
    // The client holds the configuration with its credentials: show only the brokers.
    redactedView(this, 'KafkaConsumerClient', () => ({ brokers: this.brokers }));
    this.consumer = new Kafka.KafkaConsumer(
      {
        ...(config as Kafka.ConsumerGlobalConfig),
        // A function rebalance_cb turns off the library's own assign(): dstream assigns at the
        // offsets its store holds, which it can only know after an asynchronous load.
        rebalance_cb: (error: Kafka.LibrdKafkaError, assignment: Kafka.TopicPartition[]) => {
          const partitions = assignment.map(({ topic, partition }) => ({ topic, partition }));
          this.onRebalance?.({ type: error?.code === ERR_ASSIGN_PARTITIONS ? 'assign' : 'revoke', partitions });
        },
        // The answer to each commit (asynchronous or not), served from inside consume().
        offset_commit_cb: (error: Kafka.LibrdKafkaError | null, offsets: Kafka.TopicPartitionOffset[]) =>
          this.onCommitAnswer(error, offsets ?? []),
      } as Kafka.ConsumerGlobalConfig,
      {},
    );
    this.consumer.on('event.error', (error) => {
      this.lastError = error;
      const reason = kafkaAuthenticationFailure(error);
      if (reason !== undefined) this.onRefused?.(reason, error);
    });
    this.consumer.on('event.log', (line: { severity?: number; fac?: string; message?: string }) => {
      const reason = kafkaAuthenticationFailure(line);
      if (reason !== undefined) this.onRefused?.(reason, undefined);
    });
  }

  get raw(): unknown {
    return this.consumer;
  }

  async connect(timeoutMs: number): Promise<void> {
    const connected = callback<void>(`connect to Kafka at ${this.brokers}`, (done) =>
      this.consumer.connect({ timeout: timeoutMs }, (error) => done(error)),
    );
    const refused = new Promise<never>((_, reject) => {
      this.onRefused = (reason, cause) => reject(kafkaAuthenticationError(this.brokers, this.config, reason, cause));
    });
    try {
      await withTimeout(Promise.race([connected, refused]), timeoutMs + 1000, () => new KafkaError('timed out'));
    } catch (error) {
      connected.catch(() => undefined);
      if (error instanceof AuthenticationError) {
        // The refused attempt's metadata request holds a libuv worker thread until it times out,
        // then node-rdkafka disconnects the client itself. A disconnect now would hold a second
        // worker waiting for the first (four in all: two refused clients would stall every other
        // client's calls), and whoever disconnects this client need not wait for either.
        this.disconnecting = Promise.resolve();
        throw error;
      }
      // The connect attempt may still be running: disconnecting stops its retries.
      void this.disconnect().catch(() => undefined);
      const detail = this.lastError ? `; last client error: ${this.lastError.message}` : '';
      throw new KafkaError(
        `could not reach Kafka at ${this.brokers} within ${timeoutMs} ms${detail}. ` +
          'Check bootstrap.servers, security.protocol (a listener that asks for SASL or TLS closes a plaintext ' +
          'connection) and that the brokers are up, or raise connectTimeoutMs',
        { retriable: true, cause: error, code: (error as KafkaError).code },
      );
    } finally {
      this.onRefused = undefined;
    }
  }

  getMetadata(timeoutMs: number): Promise<ClusterMetadata> {
    return callback<Kafka.Metadata>('read cluster metadata', (done) =>
      this.consumer.getMetadata({ allTopics: true, timeout: timeoutMs }, done),
    ).then((metadata) => ({
      topics: metadata.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((p) => p.id) })),
    }));
  }

  queryWatermarkOffsets({ topic, partition }: TopicPartition, timeoutMs: number): Promise<WatermarkOffsets> {
    return callback<Kafka.WatermarkOffsets>(`query watermark offsets of ${topic}-${partition}`, (done) =>
      this.consumer.queryWatermarkOffsets(topic, partition, timeoutMs, done),
    ).then(({ lowOffset, highOffset }) => ({ low: lowOffset, high: highOffset }));
  }

  cachedWatermarkOffsets({ topic, partition }: TopicPartition): WatermarkOffsets | undefined {
    let cached: Kafka.WatermarkOffsets;
    try {
      cached = this.consumer.getWatermarkOffsets(topic, partition);
    } catch {
      // librdkafka throws when it holds no bounds for the partition (not fetched yet, or not
      // assigned): the same answer as the -1001 sentinel, "ask the leader".
      return undefined;
    }
    const { lowOffset, highOffset } = cached;
    if (lowOffset === OFFSET_INVALID || highOffset === OFFSET_INVALID || lowOffset < 0 || highOffset < 0) return undefined;
    return { low: lowOffset, high: highOffset };
  }

  offsetsForTimes(partitions: readonly TopicPartitionOffset[], timeoutMs: number): Promise<TopicPartitionOffset[]> {
    return callback<Kafka.TopicPartitionOffset[]>('look up offsets for a timestamp', (done) =>
      this.consumer.offsetsForTimes(partitions.map((p) => ({ ...p })), timeoutMs, done),
    ).then((offsets) => offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
  }

  assign(partitions: readonly TopicPartitionOffset[]): void {
    wrapSync('assign partitions', () => this.consumer.assign(partitions.map((p) => ({ ...p }))));
  }

  unassign(): void {
    wrapSync('unassign partitions', () => this.consumer.unassign());
  }

  incrementalAssign(partitions: readonly TopicPartitionOffset[]): void {
    wrapSync('assign partitions', () => this.consumer.incrementalAssign(partitions.map((p) => ({ ...p }))));
  }

  incrementalUnassign(partitions: readonly TopicPartition[]): void {
    wrapSync('unassign partitions', () => this.consumer.incrementalUnassign(partitions.map((p) => ({ ...p }))));
  }

  rebalanceProtocol(): string {
    return wrapSync('read the rebalance protocol', () => this.consumer.rebalanceProtocol());
  }

  subscribe(topics: ReadonlyArray<string | RegExp>, onRebalance: (event: RebalanceEvent) => void): void {
    this.onRebalance = onRebalance;
    wrapSync('subscribe', () => this.consumer.subscribe(topics.map(toSubscription)));
  }

  consume<R extends FetchedRecord>(maxMessages: number, timeoutMs: number, build: RecordBuilder<R>): Promise<ConsumeResult<R>> {
    // The binding's batch consume, not KafkaConsumer#consume: the JS wrapper emits a 'data' event
    // per message and a 'partition.eof' event per end reached, work no output here needs (a
    // listener per call, an emit per record). The binding hands over both arrays as they are.
    const native = (this.consumer as unknown as { _client: NativeConsumer })._client;
    this.consumesInFlight++;
    return callback<{ messages: NativeMessage[]; eofEvents: NativeEofEvent[] }>('consume records', (done) =>
      native.consume(timeoutMs, maxMessages, (error, messages, eofEvents) => {
        this.onConsumeReturned();
        done(error, { messages, eofEvents });
      }),
    ).then(({ messages, eofEvents }) => {
      const sizes = new Uint32Array(messages.length);
      return {
        messages: toRecords(messages, build, sizes),
        sizes,
        endsReached: eofEvents.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      };
    });
  }

  pause(partitions: readonly TopicPartition[]): void {
    wrapSync('pause partitions', () => this.consumer.pause(partitions.map((p) => ({ ...p }))));
  }

  resume(partitions: readonly TopicPartition[]): void {
    wrapSync('resume partitions', () => this.consumer.resume(partitions.map((p) => ({ ...p }))));
  }

  seek(position: TopicPartitionOffset, timeoutMs: number): Promise<void> {
    return callback<void>(`seek ${position.topic}-${position.partition} to ${position.offset}`, (done) =>
      this.consumer.seek({ ...position }, timeoutMs, done),
    );
  }

  position(partitions: readonly TopicPartition[]): TopicPartitionOffset[] {
    return wrapSync('read fetch positions', () => this.consumer.position(partitions.map((p) => ({ ...p })))).map(
      ({ topic, partition, offset }) => ({ topic, partition, offset: offset ?? OFFSET_INVALID }),
    );
  }

  /**
   * Commits without holding the event loop for the round trip to the group coordinator while a
   * fetch loop is consuming: librdkafka serves a commit's answer (`offset_commit_cb`) only from
   * inside `consume()`, so the asynchronous commit is used while a `consume` call is under way, and
   * its promise settles when the answer for these offsets arrives. With no consumer loop running
   * (before the fetch starts, after it stopped) nothing would serve the answer: the commit is
   * synchronous then, as are asynchronous commits still waiting when the loop stops (see
   * `onConsumeReturned`). Either way the promise settles with the broker's answer.
   */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.consumesInFlight === 0) return this.commitNow(offsets);
    return new Promise<void>((resolve, reject) => {
      const pending: PendingCommit = { offsets: offsets.map((o) => ({ ...o })), resolve, reject };
      this.pendingCommits.push(pending);
      try {
        this.consumer.commit(pending.offsets.map((o) => ({ ...o })));
      } catch (error) {
        this.pendingCommits.splice(this.pendingCommits.indexOf(pending), 1);
        reject(toKafkaError(error, 'commit offsets to the consumer group'));
      }
    });
  }

  /** The synchronous commit: the broker's answer, with the event loop held meanwhile. */
  private async commitNow(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    wrapSync('commit offsets to the consumer group', () => this.consumer.commitSync(offsets.map((o) => ({ ...o }))));
  }

  /**
   * Settles the oldest waiting commit of exactly these offsets. Answers to synchronous commits
   * arrive here too and match nothing, unless their offsets are those of a waiting commit: then
   * they carry the same write's outcome.
   */
  private onCommitAnswer(error: Kafka.LibrdKafkaError | null, reported: readonly Kafka.TopicPartitionOffset[]): void {
    const index = this.pendingCommits.findIndex((pending) => sameOffsets(reported, pending.offsets));
    if (index < 0) return;
    const [pending] = this.pendingCommits.splice(index, 1);
    // A partition's own error (e.g. an offset the broker refused) fails the commit too.
    const failure = error ?? reported.map((r) => (r as { error?: unknown }).error).find((e) => e !== undefined && e !== null);
    if (failure) pending.reject(toKafkaError(failure, 'commit offsets to the consumer group'));
    else pending.resolve();
  }

  /**
   * After a `consume` returned: if no other is under way and the fetch loop does not call again
   * at once (it stopped), commits still waiting would get no answer; each is made again
   * synchronously, in order, which writes the same offsets and returns the broker's answer.
   */
  private onConsumeReturned(): void {
    this.consumesInFlight--;
    if (this.consumesInFlight > 0 || this.pendingCommits.length === 0) return;
    setImmediate(() => {
      if (this.consumesInFlight > 0) return;
      const waiting = this.pendingCommits.splice(0);
      for (const pending of waiting) this.commitNow(pending.offsets).then(pending.resolve, pending.reject);
    });
  }

  committed(partitions: readonly TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]> {
    return callback<Kafka.TopicPartitionOffset[]>('read committed offsets of the consumer group', (done) =>
      this.consumer.committed(
        partitions.map((p) => ({ ...p })),
        timeoutMs,
        done,
      ),
    ).then((offsets) => offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset: offset ?? -1 })));
  }

  disconnect(): Promise<void> {
    this.disconnecting ??= new Promise<void>((resolve) => {
      if (!this.consumer.isConnected()) {
        resolve();
        return;
      }
      this.consumer.disconnect(() => resolve());
    });
    return this.disconnecting;
  }
}

/** Creates a consumer over librdkafka with this configuration (already validated by the caller). */
export function createKafkaConsumer(config: Readonly<Record<string, unknown>>): KafkaConsumerClient {
  return new RdKafkaConsumerClient(config);
}


/**
 * What tools outside a stream read from a cluster: topics and partitions, each partition's log
 * bounds, and offsets by timestamp. It never joins a consumer group.
 */
export type KafkaLogReader = Pick<
  KafkaConsumerClient,
  'brokers' | 'connect' | 'getMetadata' | 'queryWatermarkOffsets' | 'offsetsForTimes' | 'disconnect'
>;

/**
 * Creates a `KafkaLogReader` on `bootstrap.servers` (plus any further librdkafka settings, e.g.
 * security). Call `connect` before use and `disconnect` after.
 *
 * @example
 * const reader = createKafkaLogReader({ 'bootstrap.servers': '127.0.0.1:9092' });
 * await reader.connect(10_000);
 * const { low, high } = await reader.queryWatermarkOffsets({ topic: 'events', partition: 0 }, 10_000);
 * await reader.disconnect();
 */
export function createKafkaLogReader(config: Readonly<Record<string, string | number | boolean>>): KafkaLogReader {
  // librdkafka's consumer needs a group.id even though this one never subscribes or commits, so
  // no group of this name is ever created on the brokers.
  return new RdKafkaConsumerClient({ 'group.id': 'dstream-log-reader', 'enable.auto.commit': false, ...config });
}
