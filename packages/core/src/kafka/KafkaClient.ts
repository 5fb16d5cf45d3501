/**
 * The one module that talks to the Kafka client library (node-rdkafka, librdkafka 2.x): the
 * consumer of the direct stream, and the group-offsets reader, transactional producer and
 * state-topic reader of @dstream/offsets-kafka. Everything else in dstream sees the capability
 * interfaces of `kafkaCapabilities.ts`, and every library error arrives as a `KafkaError`
 * (`kafkaErrors.ts`), so moving to `@confluentinc/kafka-javascript` (same API) touches this file only.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as Kafka from 'node-rdkafka';
import { AuthenticationError, ConfigError, KafkaError } from '../errors';
import type { TopicPartition } from '../offsets/OffsetRange';
import type { GroupMetadata } from '../offsets/OffsetStore';
import { REDACTED, isSecretKey, redactedView } from '../util/redact';
import type {
  ClusterMetadata,
  ConsumeResult,
  FetchedRecord,
  GroupOffsetsClient,
  KafkaConfigRefusal,
  KafkaConsumerClient,
  KafkaHeader,
  KafkaParams,
  OutputRecord,
  RebalanceEvent,
  RecordBuilder,
  StateTopicClient,
  StateTopicRecord,
  TopicPartitionOffset,
  TransactionalProducer,
  WatermarkOffsets,
} from './kafkaCapabilities';
import { kafkaAuthenticationError, kafkaAuthenticationFailure, toKafkaError } from './kafkaErrors';

export type * from './kafkaCapabilities';
export { kafkaAuthenticationError, kafkaAuthenticationFailure, toKafkaError } from './kafkaErrors';
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
  readonly groupMetadata: GroupMetadata;
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
    this.groupMetadata = groupMetadataOf(String(config['group.id']), this.consumer);
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

/**
 * The group memberships handed out as `GroupMetadata`, with the consumer behind each: only a
 * producer made here reads them, so no consumer object leaves this module.
 */
const groupConsumers = new WeakMap<GroupMetadata, Kafka.KafkaConsumer>();

/** A new `GroupMetadata` for a consumer of group `groupId` (each consumer client makes one, once). */
function groupMetadataOf(groupId: string, consumer: Kafka.KafkaConsumer): GroupMetadata {
  const metadata: GroupMetadata = Object.freeze({ groupId });
  groupConsumers.set(metadata, consumer);
  return metadata;
}

/** The consumer behind a `GroupMetadata`, checked before a transaction uses it. */
function consumerOf(group: GroupMetadata): Kafka.KafkaConsumer {
  const consumer = groupConsumers.get(group);
  if (consumer === undefined) {
    throw new ConfigError(
      'binding.kafka.groupMetadata',
      group,
      "must be the groupMetadata a Kafka direct stream's binding lends",
      'Connect the sink through KafkaUtils.createDirectStream, which lends its consumer group membership.',
    );
  }
  return consumer;
}

/**
 * Connects a client, rejecting with a retriable `KafkaError` that names the brokers, or at once
 * with an `AuthenticationError` when librdkafka reports that the brokers refused the client
 * (credentials, SASL mechanism, TLS handshake; see core's `kafkaAuthenticationFailure`).
 */
async function connectClient(
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
    // The refused attempt ends on its own when its metadata request times out (see core's KafkaClient).
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

/** Connects a consumer of `groupId` that only reads and commits offsets. */
export async function connectGroupOffsetsClient(
  brokers: string,
  groupId: string,
  params: KafkaParams,
  timeoutMs: number,
): Promise<GroupOffsetsClient> {
  const consumer = new Kafka.KafkaConsumer(
    { ...params, 'bootstrap.servers': brokers, 'group.id': groupId, 'enable.auto.commit': false },
    {},
  );
  await connectClient(consumer, brokers, timeoutMs, params);
  let disconnecting: Promise<void> | undefined;
  return {
    committed: (partitions, committedTimeoutMs) =>
      callback<Kafka.TopicPartitionOffset[]>(`read committed offsets of group ${groupId}`, (done) =>
        consumer.committed(
          partitions.map(({ topic, partition }) => ({ topic, partition })),
          committedTimeoutMs,
          done,
        ),
      ).then((offsets) => offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset: offset ?? -1 }))),
    commit(offsets) {
      // The asynchronous commit's answer is only served from inside consume(), which this
      // consumer never calls; the synchronous one returns the coordinator's answer directly.
      try {
        consumer.commitSync(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
      } catch (error) {
        throw toKafkaError(error, `commit offsets of group ${groupId}`);
      }
    },
    disconnect() {
      disconnecting ??= new Promise<void>((resolve) => {
        if (!consumer.isConnected()) resolve();
        else consumer.disconnect(() => resolve());
      });
      return disconnecting;
    },
  };
}


/** librdkafka's RD_KAFKA_OFFSET_BEGINNING: the partition's first offset, whatever compaction left. */
const OFFSET_BEGINNING = -2;
/** librdkafka's TOPIC_ALREADY_EXISTS. */
const ERR_TOPIC_ALREADY_EXISTS = 36;

/**
 * A `StateTopicClient` over librdkafka: an admin client to create the topic, and for each read a
 * consumer that never joins a group, assigned partition 0 from its beginning with
 * `isolation.level=read_committed` (aborted state writes are skipped), read until librdkafka reports
 * the partition's end.
 */
export function createStateTopicClient(params: KafkaParams): StateTopicClient {
  const brokers = String(params['bootstrap.servers']);
  return {
    async ensureTopic(topic, timeoutMs) {
      const admin = Kafka.AdminClient.create({ ...params } as Kafka.GlobalConfig);
      try {
        await callback<void>(`create state topic ${topic}`, (done) =>
          admin.createTopic(
            { topic, num_partitions: 1, replication_factor: -1, config: { 'cleanup.policy': 'compact' } },
            timeoutMs,
            (error) => done(error && (error as { code?: number }).code === ERR_TOPIC_ALREADY_EXISTS ? undefined : error),
          ),
        );
      } finally {
        admin.disconnect();
      }
    },
    async readAll(topic, timeoutMs) {
      const consumer = new Kafka.KafkaConsumer(
        {
          ...params,
          'group.id': `dstream-state-reader-${topic}`,
          'enable.auto.commit': false,
          'enable.partition.eof': true,
          'isolation.level': 'read_committed',
          // The read ends at the partition's end: don't let the broker hold each empty fetch 500 ms.
          'fetch.wait.max.ms': 50,
        },
        {},
      );
      await connectClient(consumer, brokers, timeoutMs, params);
      try {
        let isAtEnd = false;
        consumer.on('partition.eof', () => void (isAtEnd = true));
        consumer.assign([{ topic, partition: 0, offset: OFFSET_BEGINNING }]);
        consumer.setDefaultConsumeTimeout(100);
        const records: StateTopicRecord[] = [];
        const deadline = Date.now() + timeoutMs;
        while (!isAtEnd) {
          if (Date.now() > deadline) {
            throw new KafkaError(`could not read state topic ${topic} to its end within ${timeoutMs} ms`, { retriable: true });
          }
          const messages = await callback<Kafka.Message[]>(`read state topic ${topic}`, (done) => consumer.consume(1000, done));
          for (const message of messages) {
            records.push({ key: String(message.key ?? ''), value: message.value === null ? null : message.value.toString('utf8') });
          }
        }
        return records;
      } finally {
        await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
      }
    },
  };
}


/** librdkafka's "queue full": the client holds `queue.buffering.max.messages` records already. */
const ERR_QUEUE_FULL = -184;
/** A record waiting for room in the client's queue, with the id of its pending acknowledgement. */
interface Queued {
  readonly record: OutputRecord;
  readonly id: number;
}

/** Creates a transactional producer over librdkafka; `config` must hold `bootstrap.servers` and `transactional.id`. */
export function createTransactionalProducer(config: KafkaParams): TransactionalProducer {
  const brokers = String(config['bootstrap.servers']);
  const producer = new Kafka.Producer({ ...config, dr_cb: true } as Kafka.ProducerGlobalConfig);
  const acks = new Map<number, { resolve: () => void; reject: (error: KafkaError) => void }>();
  // Records that met a full client queue wait here, in order, until delivery reports free room:
  // producing them later than records sent after them would reorder a partition.
  const backlog: Queued[] = [];
  let nextId = 0;
  let isConnected = false;
  let disconnecting: Promise<void> | undefined;

  const settle = (id: number, error?: KafkaError) => {
    const ack = acks.get(id);
    acks.delete(id);
    if (error) ack?.reject(error);
    else ack?.resolve();
  };
  /** Hands the record to the client; false when its queue is full. */
  const produce = ({ record, id }: Queued): boolean => {
    try {
      producer.produce(
        record.topic,
        record.partition ?? null,
        record.value === null ? null : Buffer.from(record.value),
        record.key ?? undefined,
        Date.now(),
        id,
        record.headers ? record.headers.map((header) => ({ ...header })) : undefined,
      );
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === ERR_QUEUE_FULL) return false;
      settle(id, toKafkaError(error, `produce to ${record.topic}`));
      return true;
    }
  };
  const drain = () => {
    while (backlog.length > 0 && produce(backlog[0])) backlog.shift();
  };
  producer.on('delivery-report', (error, report) => {
    settle(report.opaque as number, error ? toKafkaError(error, `produce to ${report.topic}`) : undefined);
    drain();
  });

  return {
    async initTransactions(timeoutMs) {
      if (!isConnected) {
        await connectClient(producer, brokers, timeoutMs, config).catch((error: unknown) => {
          // A refused attempt ends on its own; disconnecting would wait for its metadata timeout.
          if (error instanceof AuthenticationError) disconnecting = Promise.resolve();
          throw error;
        });
        isConnected = true;
        // Delivery reports are dispatched only while the producer is polled.
        producer.setPollInterval(10);
      }
      await callback<void>(`initialize transactions for transactional.id ${config['transactional.id']}`, (done) =>
        producer.initTransactions(timeoutMs, done),
      );
    },
    beginTransaction: () => callback<void>('begin a transaction', (done) => producer.beginTransaction(done)),
    send(record) {
      const id = nextId++;
      const ack = new Promise<void>((resolve, reject) => acks.set(id, { resolve, reject }));
      if (backlog.length > 0 || !produce({ record, id })) backlog.push({ record, id });
      return ack;
    },
    sendOffsetsToTransaction(offsets, group, timeoutMs) {
      let consumer: Kafka.KafkaConsumer;
      try {
        consumer = consumerOf(group);
      } catch (error) {
        return Promise.reject(error);
      }
      return callback<void>('send offsets to the transaction', (done) =>
        producer.sendOffsetsToTransaction(
          offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
          consumer,
          timeoutMs,
          done,
        ),
      );
    },
    commitTransaction: (timeoutMs) =>
      callback<void>('commit the transaction', (done) => producer.commitTransaction(timeoutMs, done)),
    abortTransaction(timeoutMs) {
      const dropped = backlog.splice(0);
      for (const { id } of dropped) settle(id, new KafkaError('the transaction was aborted before this record was sent'));
      return callback<void>('abort the transaction', (done) => producer.abortTransaction(timeoutMs, done));
    },
    disconnect() {
      disconnecting ??= new Promise<void>((resolve) => {
        producer.setPollInterval(0);
        if (!producer.isConnected()) resolve();
        else producer.disconnect(() => resolve());
      });
      return disconnecting;
    },
  };
}

