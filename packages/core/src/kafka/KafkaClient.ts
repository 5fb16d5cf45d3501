/**
 * The module the rest of dstream takes its Kafka clients from, over the client library
 * (node-rdkafka, librdkafka 2.x): the consumer of the direct stream (`RdKafkaConsumerClient.ts`),
 * and the group-offsets reader, producers (`kafkaProducers.ts`) and state-topic reader of
 * @dstream/offsets-kafka, plus the check of a consumer configuration by librdkafka itself. Only
 * this file and those siblings (with their shared `kafkaClientCalls.ts`) import the library.
 * Everything else in dstream sees the capability interfaces of `kafkaCapabilities.ts`, and every
 * library error arrives as a `KafkaError` (`kafkaErrors.ts`), so moving to
 * `@confluentinc/kafka-javascript` (same API) touches these files only.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as Kafka from 'node-rdkafka';
import { KafkaError } from '../errors';
import { REDACTED, isSecretKey } from '../util/redact';
import type {
  GroupOffsetsClient,
  KafkaConfigRefusal,
  KafkaConsumerClient,
  KafkaParams,
  StateTopicClient,
  StateTopicRecord,
} from './kafkaCapabilities';
import { callback, connectClient } from './kafkaClientCalls';
import { toKafkaError } from './kafkaErrors';
import { RdKafkaConsumerClient } from './RdKafkaConsumerClient';
import { WireConsumerClient, canFetchOverWire } from './wire/WireConsumerClient';
import type { Logger } from '../util/Logger';

export type * from './kafkaCapabilities';
export { kafkaAuthenticationError, kafkaAuthenticationFailure, toKafkaError } from './kafkaErrors';
export { OFFSET_INVALID } from './RdKafkaConsumerClient';
export { createRecordProducer, createTransactionalProducer } from './kafkaProducers';

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

/** How a direct stream's consumer fetches records (`DirectStreamOptions.fetchEngine`). */
export type FetchEngine = 'wire' | 'librdkafka';

/** What a consumer is made with besides its librdkafka configuration. */
export interface ConsumerOptions {
  /**
   * `wire` (the default): records are fetched from the partition leaders in JavaScript, and
   * librdkafka keeps the group, commits and metadata (`wire/WireConsumerClient.ts`); over TLS or
   * SASL, librdkafka fetches anyway. `librdkafka`: librdkafka fetches too.
   */
  readonly fetchEngine?: FetchEngine;
  readonly logger?: Logger;
}

/** Whether a stream with these options has its records fetched by the wire fetcher (when no hand-over happens). */
export function fetchesOverWire(options: { readonly fetchEngine?: FetchEngine; readonly kafkaParams: KafkaParams }): boolean {
  return (options.fetchEngine ?? 'wire') === 'wire' && canFetchOverWire(options.kafkaParams);
}

/** Creates a consumer over librdkafka with this configuration (already validated by the caller). */
export function createKafkaConsumer(config: Readonly<Record<string, unknown>>, options: ConsumerOptions = {}): KafkaConsumerClient {
  const client = new RdKafkaConsumerClient(config);
  if (!fetchesOverWire({ fetchEngine: options.fetchEngine, kafkaParams: config as KafkaParams })) return client;
  return new WireConsumerClient(client, config, options.logger);
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

