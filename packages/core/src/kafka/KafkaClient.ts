/**
 * The one module that talks to the Kafka client library (node-rdkafka, librdkafka 2.x). Everything
 * else in dstream sees the small promise-based interfaces below, and every library error arrives
 * as a `KafkaError`, so moving to `@confluentinc/kafka-javascript` (same API) touches this file only.
 */
import * as Kafka from 'node-rdkafka';
import { KafkaError } from '../errors';
import type { TopicPartition } from '../offsets/OffsetRange';

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

/**
 * librdkafka's consumer-side configuration properties (global and topic level; librdkafka applies
 * topic-level ones given in the global config to every topic). Options outside this list are
 * rejected up front, with the nearest name, instead of failing inside the client.
 */
export const KAFKA_CONSUMER_PROPERTIES: readonly string[] = [
  'allow.auto.create.topics', 'api.version.fallback.ms', 'api.version.request', 'api.version.request.timeout.ms',
  'auto.commit.enable', 'auto.commit.interval.ms', 'auto.offset.reset', 'background_event_cb', 'bootstrap.servers',
  'broker.address.family', 'broker.address.ttl', 'broker.version.fallback', 'builtin.features', 'check.crcs',
  'client.dns.lookup', 'client.id', 'client.rack', 'closesocket_cb', 'connect_cb', 'connections.max.idle.ms',
  'consume.callback.max.messages', 'consume_cb', 'coordinator.query.interval.ms', 'debug', 'default_topic_conf',
  'enable.auto.commit', 'enable.auto.offset.store', 'enable.metrics.push', 'enable.partition.eof',
  'enable.random.seed', 'enable.sasl.oauthbearer.unsecure.jwt', 'enable.ssl.certificate.verification',
  'enabled_events', 'error_cb', 'event_cb', 'fetch.error.backoff.ms', 'fetch.max.bytes', 'fetch.message.max.bytes',
  'fetch.min.bytes', 'fetch.queue.backoff.ms', 'fetch.wait.max.ms', 'group.id', 'group.instance.id',
  'group.protocol', 'group.protocol.type', 'group.remote.assignor', 'heartbeat.interval.ms', 'https.ca.location',
  'https.ca.pem', 'interceptors', 'internal.termination.signal', 'isolation.level', 'log.connection.close',
  'log.queue', 'log.thread.name', 'log_cb', 'log_level', 'max.in.flight', 'max.in.flight.requests.per.connection',
  'max.partition.fetch.bytes', 'max.poll.interval.ms', 'message.copy.max.bytes', 'message.max.bytes',
  'metadata.broker.list', 'metadata.max.age.ms', 'metadata.recovery.rebootstrap.trigger.ms',
  'metadata.recovery.strategy', 'oauthbearer_token_refresh_cb', 'offset.store.method', 'offset.store.path',
  'offset.store.sync.interval.ms', 'offset_commit_cb', 'opaque', 'open_cb', 'partition.assignment.strategy',
  'plugin.library.paths', 'queued.max.messages.kbytes', 'queued.min.messages', 'rebalance_cb',
  'receive.message.max.bytes', 'reconnect.backoff.jitter.ms', 'reconnect.backoff.max.ms', 'reconnect.backoff.ms',
  'resolve_cb', 'retry.backoff.max.ms', 'retry.backoff.ms', 'sasl.kerberos.keytab', 'sasl.kerberos.kinit.cmd',
  'sasl.kerberos.min.time.before.relogin', 'sasl.kerberos.principal', 'sasl.kerberos.service.name',
  'sasl.mechanism', 'sasl.mechanisms', 'sasl.oauthbearer.assertion.algorithm', 'sasl.oauthbearer.assertion.claim.aud',
  'sasl.oauthbearer.assertion.claim.exp.seconds', 'sasl.oauthbearer.assertion.claim.iss',
  'sasl.oauthbearer.assertion.claim.jti.include', 'sasl.oauthbearer.assertion.claim.nbf.seconds',
  'sasl.oauthbearer.assertion.claim.sub', 'sasl.oauthbearer.assertion.file',
  'sasl.oauthbearer.assertion.jwt.template.file', 'sasl.oauthbearer.assertion.private.key.file',
  'sasl.oauthbearer.assertion.private.key.passphrase', 'sasl.oauthbearer.assertion.private.key.pem',
  'sasl.oauthbearer.client.credentials.client.id', 'sasl.oauthbearer.client.credentials.client.secret',
  'sasl.oauthbearer.client.id', 'sasl.oauthbearer.client.secret', 'sasl.oauthbearer.config',
  'sasl.oauthbearer.extensions', 'sasl.oauthbearer.grant.type', 'sasl.oauthbearer.metadata.authentication.type',
  'sasl.oauthbearer.method', 'sasl.oauthbearer.scope', 'sasl.oauthbearer.token.endpoint.url', 'sasl.password',
  'sasl.username', 'security.protocol', 'session.timeout.ms', 'socket.blocking.max.ms',
  'socket.connection.setup.timeout.ms', 'socket.keepalive.enable', 'socket.max.fails', 'socket.nagle.disable',
  'socket.receive.buffer.bytes', 'socket.send.buffer.bytes', 'socket.timeout.ms', 'socket_cb',
  'ssl.ca.certificate.stores', 'ssl.ca.location', 'ssl.ca.pem', 'ssl.certificate.location', 'ssl.certificate.pem',
  'ssl.certificate.verify_cb', 'ssl.cipher.suites', 'ssl.crl.location', 'ssl.curves.list',
  'ssl.endpoint.identification.algorithm', 'ssl.engine.id', 'ssl.engine.location', 'ssl.key.location',
  'ssl.key.password', 'ssl.key.pem', 'ssl.keystore.location', 'ssl.keystore.password', 'ssl.providers',
  'ssl.sigalgs.list', 'ssl_ca', 'ssl_certificate', 'ssl_engine_callback_data', 'ssl_key', 'statistics.interval.ms',
  'stats_cb', 'throttle_cb', 'topic.blacklist', 'topic.metadata.propagation.max.ms',
  'topic.metadata.refresh.fast.cnt', 'topic.metadata.refresh.fast.interval.ms', 'topic.metadata.refresh.interval.ms',
  'topic.metadata.refresh.sparse',
];

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
    retriable: lib.isFatal !== true && (lib.isRetriable === true || (code !== undefined && TRANSIENT_CODES.has(code))),
    cause: error,
  });
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

class RdKafkaConsumerClient implements KafkaConsumerClient {
  readonly brokers: string;
  private readonly consumer: Kafka.KafkaConsumer;
  private onRebalance: ((event: RebalanceEvent) => void) | undefined;
  private lastError: Kafka.LibrdKafkaError | undefined;
  private disconnecting: Promise<void> | undefined;

  constructor(config: Readonly<Record<string, unknown>>) {
    this.brokers = String(config['bootstrap.servers'] ?? config['metadata.broker.list']);
    this.consumer = new Kafka.KafkaConsumer(
      {
        ...(config as Kafka.ConsumerGlobalConfig),
        // A function rebalance_cb turns off the library's own assign(): dstream assigns at the
        // offsets its store holds, which it can only know after an asynchronous load.
        rebalance_cb: (error: Kafka.LibrdKafkaError, assignment: Kafka.TopicPartition[]) => {
          const partitions = assignment.map(({ topic, partition }) => ({ topic, partition }));
          this.onRebalance?.({ type: error?.code === ERR_ASSIGN_PARTITIONS ? 'assign' : 'revoke', partitions });
        },
      } as Kafka.ConsumerGlobalConfig,
      {},
    );
    this.consumer.on('event.error', (error) => {
      this.lastError = error;
    });
  }

  get raw(): unknown {
    return this.consumer;
  }

  async connect(timeoutMs: number): Promise<void> {
    const connected = callback<void>(`connect to Kafka at ${this.brokers}`, (done) =>
      this.consumer.connect({ timeout: timeoutMs }, (error) => done(error)),
    );
    try {
      await withTimeout(connected, timeoutMs + 1000, () => new KafkaError('timed out'));
    } catch (error) {
      // The connect attempt may still be running: disconnecting stops its retries.
      void this.disconnect().catch(() => undefined);
      const detail = this.lastError ? `; last client error: ${this.lastError.message}` : '';
      throw new KafkaError(
        `could not reach Kafka at ${this.brokers} within ${timeoutMs} ms${detail}. ` +
          'Check bootstrap.servers and that the brokers are up, or raise connectTimeoutMs',
        { retriable: true, cause: error, code: (error as KafkaError).code },
      );
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
    return callback<{ messages: NativeMessage[]; eofEvents: NativeEofEvent[] }>('consume records', (done) =>
      native.consume(timeoutMs, maxMessages, (error, messages, eofEvents) => done(error, { messages, eofEvents })),
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

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    // librdkafka serves the asynchronous commit's result callback only from inside consume(),
    // which the fetch loop may not be calling right now; the synchronous commit returns the
    // broker's answer directly (a round trip to the group coordinator).
    wrapSync('commit offsets to the consumer group', () => this.consumer.commitSync(offsets.map((o) => ({ ...o }))));
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

