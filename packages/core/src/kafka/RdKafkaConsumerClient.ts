/**
 * The direct stream's consumer over node-rdkafka: a `KafkaConsumerClient` that fetches with the
 * binding's batch `consume`, builds records in place of the library's message objects, commits
 * without holding the event loop while a fetch is under way, and lends its group membership as an
 * opaque `GroupMetadata` that only a producer of `kafkaProducers.ts` can read.
 */
import * as Kafka from 'node-rdkafka';
import { AuthenticationError, ConfigError, KafkaError } from '../errors';
import { topicPartitionKey } from '../offsets/OffsetRange';
import type { TopicPartition } from '../offsets/OffsetRange';
import type { GroupMetadata } from '../offsets/OffsetStore';
import { redactedView } from '../util/redact';
import type {
  ClusterMetadata,
  ConsumeResult,
  FetchedRecord,
  KafkaConsumerClient,
  KafkaHeader,
  RebalanceEvent,
  RecordBuilder,
  TopicPartitionOffset,
  WatermarkOffsets,
} from './kafkaCapabilities';
import { callback, withTimeout, wrapSync } from './kafkaClientCalls';
import { kafkaAuthenticationError, kafkaAuthenticationFailure, toKafkaError } from './kafkaErrors';
import type { LeaderMap } from './wire/WireFetcher';

/** librdkafka's code for "assign these partitions" in a rebalance callback. */
const ERR_ASSIGN_PARTITIONS = -175;
/** librdkafka's sentinel for an offset not known yet (e.g. a position before the first fetch). */
export const OFFSET_INVALID = -1001;

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

/** A `KafkaConsumerClient` over a node-rdkafka `KafkaConsumer`. */
export class RdKafkaConsumerClient implements KafkaConsumerClient {
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

  /** The brokers' addresses and the leader of each partition of `topics`, from cluster metadata. */
  partitionLeaders(topics: readonly string[], timeoutMs: number): Promise<LeaderMap> {
    const wanted = new Set(topics);
    return callback<Kafka.Metadata>('read partition leaders', (done) =>
      this.consumer.getMetadata({ allTopics: true, timeout: timeoutMs }, done),
    ).then((metadata) => {
      const brokers = new Map<number, { host: string; port: number }>();
      for (const { id, host, port } of metadata.brokers) brokers.set(id, { host, port });
      const leaders = new Map<string, number>();
      for (const topic of metadata.topics) {
        if (!wanted.has(topic.name)) continue;
        for (const p of topic.partitions) leaders.set(topicPartitionKey(topic.name, p.id), p.leader);
      }
      return { brokers, leaders };
    });
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

/**
 * The group memberships handed out as `GroupMetadata`, with the consumer behind each: only a
 * producer of `kafkaProducers.ts` reads them, so no consumer object leaves the Kafka client files.
 */
const groupConsumers = new WeakMap<GroupMetadata, Kafka.KafkaConsumer>();

/** A new `GroupMetadata` for a consumer of group `groupId` (each consumer client makes one, once). */
function groupMetadataOf(groupId: string, consumer: Kafka.KafkaConsumer): GroupMetadata {
  const metadata: GroupMetadata = Object.freeze({ groupId });
  groupConsumers.set(metadata, consumer);
  return metadata;
}

/** The consumer behind a `GroupMetadata`, checked before a transaction uses it. */
export function consumerOf(group: GroupMetadata): Kafka.KafkaConsumer {
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
