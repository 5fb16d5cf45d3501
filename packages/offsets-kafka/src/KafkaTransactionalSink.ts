import {
  checkExpectedOffsets,
  ConfigError,
  decodeStateMeta,
  decodeStateRecord,
  encodeStateWrite,
  IllegalStateError,
  KafkaError,
  OffsetStoreError,
  redactedView,
  STATE_META_FIELD,
  StoreClient,
} from '@dstream/core';
import type {
  DeadLetter,
  KafkaGroupBinding,
  LoadedState,
  OffsetCommit,
  OffsetStore,
  OffsetStoreBinding,
  StateWrite,
  StoredOffsets,
  TopicPartition,
} from '@dstream/core';
import { checkDeadLetterTopic, deadLetterRecords, deadLettersOf } from './deadLetterTopic';
import { offsetsOf, partitionsOf, serializeByGroup, toStoreError } from './groupOffsets';
import {
  createStateTopicClient,
  createTransactionalProducer,
  KafkaParams,
  OutputRecord,
  StateTopicClient,
  StateTopicClientFactory,
  TransactionalProducer,
  TransactionalProducerFactory,
} from '@dstream/core/internal';

/** Options of `KafkaTransactionalSink`. */
export interface KafkaTransactionalSinkOptions {
  /** `bootstrap.servers` of the cluster the output goes to: the one the input is read from. */
  readonly brokers: string;
  /**
   * The producer's `transactional.id`. Keep it stable across restarts of one copy of the job and
   * distinct between copies running at the same time: starting a producer with an id fences
   * (bumps the epoch of) every older producer with that id and aborts its open transaction.
   * With `ConsumerStrategies.Assign`, derive it from the job and its partition set; with
   * Subscribe, from the job and the member (like `group.instance.id`).
   */
  readonly transactionalId: string;
  /** Further librdkafka producer settings (security, `compression.type`, `linger.ms`). */
  readonly producerParams?: KafkaParams;
  /** `transaction.timeout.ms`: how long the broker lets a transaction stay open. Default 60000. */
  readonly transactionTimeoutMs?: number;
  /** How long initTransactions, reading offsets, sending offsets, commit and abort may each take. Default 30000. */
  readonly requestTimeoutMs?: number;
  /**
   * A compacted topic to keep the state of the job's stateful operators in (`mapWithState`,
   * `updateStateByKey`, the windowed reductions), written in each batch's Kafka transaction;
   * created on `connect()` (one partition, `cleanup.policy=compact`) if missing. One topic per
   * job. Without it the sink keeps no state, and exactly-once jobs with stateful operators are
   * refused.
   */
  readonly stateTopic?: string;
  /**
   * A topic for the records the dead-letter policy sets aside (`recordErrors: { policy:
   * 'dead-letter' }`): each letter is produced inside the Kafka transaction of the batch that set
   * its record aside, so it becomes visible exactly when that batch's offsets commit, once.
   * Created on `connect()` (one partition, compacted: one letter per record) if missing; read it
   * with `read_committed`. Without it the sink keeps no dead letters and the policy is refused.
   */
  readonly deadLetterTopic?: string;
}

/** What a batch's output writes through, with `delivery: 'exactly-once'`: records of the batch's Kafka transaction. */
export interface KafkaTransaction {
  /**
   * Produces a record inside the batch's transaction. Resolves when the broker acknowledged it;
   * the sink waits for every record before it commits, so awaiting is optional.
   */
  send(
    topic: string,
    key: string | Buffer | null,
    value: string | Buffer | null,
    options?: { readonly partition?: number; readonly headers?: ReadonlyArray<Record<string, string | Buffer>> },
  ): Promise<void>;
}

/** What an open sink holds: the stream's binding, its producer, and the state topic's client when it keeps state. */
interface SinkConnection {
  readonly binding: KafkaGroupBinding;
  readonly producer: TransactionalProducer;
  readonly stateClient: StateTopicClient | undefined;
}

const DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const STORE = 'kafka-transactional';
/** Kafka's rule for topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** A commit that times out is retried in the same transaction (librdkafka's documented handling) this often. */
const COMMIT_ATTEMPTS = 3;
/** Settings that make the producer transactional; the sink owns them. */
const OWNED_PRODUCER_PARAMS: Readonly<Record<string, string>> = {
  'transactional.id': 'use the transactionalId option',
  'transaction.timeout.ms': 'use the transactionTimeoutMs option',
  'enable.idempotence': 'transactions require it; librdkafka enables it with transactional.id',
  acks: 'transactions require acks=all; librdkafka sets it with transactional.id',
  'bootstrap.servers': 'use the brokers option',
  'metadata.broker.list': 'use the brokers option',
  dr_cb: 'the sink needs delivery reports to know every record was written',
};

/**
 * Exactly-once Kafka-to-Kafka: each batch's output records and its input offsets commit in one
 * Kafka transaction. It is the offset store of the stream (`supportsTransactions`), so
 * `delivery: 'exactly-once'` runs every batch as: read the group's committed offsets and compare
 * them with the batch's (`StaleOffsetError` otherwise), `beginTransaction`, the output's
 * `tx.send(...)` calls, `sendOffsetsToTransaction` with each range's `untilOffset` and the
 * stream's consumer, `commitTransaction`. Any failure aborts the transaction; the output records
 * are discarded and the offsets do not move.
 *
 * Zombies are fenced twice: by the transactional.id's epoch (a restarted copy with the same id
 * aborts and fences the old one) and, with Subscribe strategies, by the group generation that
 * `sendOffsetsToTransaction` carries. Consumers of the output must read with
 * `isolation.level=read_committed` (librdkafka's default; the Java client defaults to
 * read_uncommitted) or they also see aborted records.
 *
 * @example
 * const sink = new KafkaTransactionalSink({ brokers: '127.0.0.1:9092', transactionalId: 'enrich-orders-0' });
 * const stream = KafkaUtils.createDirectStream(ssc, { kafkaParams, strategy, offsetStore: sink, delivery: 'exactly-once' });
 * stream.foreachBatch(async (records, { transaction }) => {
 *   // transaction: KafkaTransaction, typed from offsetStore and delivery
 *   for (const record of records) void transaction.send('orders-enriched', record.key, enrich(record.value));
 * });
 */
export class KafkaTransactionalSink implements OffsetStore<KafkaTransaction> {
  readonly name = STORE;
  readonly supportsTransactions = true;
  readonly supportsState: boolean;
  private readonly config: KafkaParams;
  private readonly stateTopic: string | undefined;
  private readonly deadLetterTopic: string | undefined;
  /**
   * Produces the letters in the batch's transaction `tx`; without one, in a transaction of their
   * own that commits before the batch's offsets (a crash in between may write a letter twice, as
   * at-least-once may; the topic's compaction and `loadDeadLetters` keep one). Present with `deadLetterTopic`.
   */
  readonly writeDeadLetters?: (group: string, letters: readonly DeadLetter[], tx?: KafkaTransaction) => Promise<void>;
  /** The letters of `group` in the dead-letter topic, one per record, in (topic, partition, offset) order. Present with `deadLetterTopic`. */
  readonly loadDeadLetters?: (group: string) => Promise<DeadLetter[]>;
  private readonly requestTimeoutMs: number;
  private readonly lifecycle: StoreClient<SinkConnection>;
  /** Set when the producer hit a fatal error (fenced by a newer instance): it can do nothing more. */
  private fatal: KafkaError | undefined;

  constructor(
    options: KafkaTransactionalSinkOptions,
    private readonly createProducer: TransactionalProducerFactory = createTransactionalProducer,
    private readonly createStateClient: StateTopicClientFactory = createStateTopicClient,
  ) {
    const {
      brokers,
      transactionalId,
      producerParams = {},
      transactionTimeoutMs = DEFAULT_TRANSACTION_TIMEOUT_MS,
      requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
      stateTopic,
      deadLetterTopic,
    } = options ?? ({} as KafkaTransactionalSinkOptions);
    if (typeof brokers !== 'string' || brokers.trim().length === 0) {
      throw new ConfigError('brokers', brokers, 'must be a non-empty host:port list', "Pass e.g. '127.0.0.1:9092'.");
    }
    if (typeof transactionalId !== 'string' || transactionalId.length === 0) {
      throw new ConfigError(
        'transactionalId',
        transactionalId,
        'must be a non-empty string',
        'Pass an id that is stable across restarts of this copy of the job and unique among copies running at once.',
      );
    }
    for (const [key, fix] of Object.entries(OWNED_PRODUCER_PARAMS)) {
      if (key in producerParams) {
        throw new ConfigError(`producerParams['${key}']`, producerParams[key], 'is set by the sink', `Remove it: ${fix}.`);
      }
    }
    for (const [option, value] of [
      ['transactionTimeoutMs', transactionTimeoutMs],
      ['requestTimeoutMs', requestTimeoutMs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value <= 0) {
        throw new ConfigError(option, value, 'must be a positive integer', 'Pass a time in ms.');
      }
    }
    this.config = {
      ...producerParams,
      'bootstrap.servers': brokers,
      'transactional.id': transactionalId,
      'transaction.timeout.ms': transactionTimeoutMs,
    };
    if (stateTopic !== undefined && (typeof stateTopic !== 'string' || !TOPIC_NAME.test(stateTopic))) {
      throw new ConfigError(
        'stateTopic',
        stateTopic,
        'must be a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)',
        "Pass e.g. 'enrich-orders-state', or omit it to keep no state.",
      );
    }
    this.stateTopic = stateTopic;
    this.supportsState = stateTopic !== undefined;
    this.deadLetterTopic = checkDeadLetterTopic(deadLetterTopic);
    if (this.deadLetterTopic !== undefined) {
      this.writeDeadLetters = (group, letters, tx) => this.produceDeadLetters(this.deadLetterTopic!, group, letters, tx);
      this.loadDeadLetters = (group) => this.readDeadLetters(this.deadLetterTopic!, group);
    }
    this.requestTimeoutMs = requestTimeoutMs;
    this.lifecycle = new StoreClient<SinkConnection>({
      store: STORE,
      address: brokers,
      acquire: (binding) => this.open(binding),
      release: ({ producer }) => producer.disconnect(),
      wrap: (what, error) => toStoreError(STORE, what, error),
    });
    // The producer settings may hold SASL and TLS secrets, and the bound consumer holds them too.
    redactedView(this, 'KafkaTransactionalSink', () => ({ config: this.config, state: this.lifecycle.state }));
  }

  /**
   * Takes the stream's consumer and registers the transactional.id, which fences older producers
   * with the same id and aborts a transaction a killed predecessor left open.
   */
  connect(binding?: OffsetStoreBinding): Promise<void> {
    return this.lifecycle.connect(binding);
  }

  /** Disconnects the producer (the stream owns its consumer). Idempotent. */
  close(): Promise<void> {
    return this.lifecycle.close();
  }

  private async open(binding: OffsetStoreBinding | undefined): Promise<SinkConnection> {
    if (binding?.kafka === undefined) {
      throw new ConfigError(
        'offsetStore',
        'KafkaTransactionalSink',
        'must be connected by a Kafka direct stream: its transactions commit the offsets through the stream\'s consumer',
        'Pass the sink as offsetStore of KafkaUtils.createDirectStream with delivery: \'exactly-once\'.',
      );
    }
    let stateClient: StateTopicClient | undefined;
    const topics = [
      ...(this.stateTopic === undefined ? [] : [['state', this.stateTopic]]),
      ...(this.deadLetterTopic === undefined ? [] : [['dead-letter', this.deadLetterTopic]]),
    ];
    if (topics.length > 0) {
      const { 'transactional.id': _id, 'transaction.timeout.ms': _timeout, ...clientParams } = this.config;
      stateClient = this.createStateClient(clientParams);
      for (const [what, topic] of topics) {
        try {
          await stateClient.ensureTopic(topic, this.requestTimeoutMs);
        } catch (error) {
          throw toStoreError(this.name, `could not create the ${what} topic ${topic}`, error);
        }
      }
    }
    const producer = this.createProducer(this.config);
    try {
      await producer.initTransactions(this.requestTimeoutMs);
    } catch (error) {
      await producer.disconnect();
      throw toStoreError(this.name, `could not initialize transactions for ${this.config['transactional.id']}`, error);
    }
    return { binding: binding.kafka, producer, stateClient };
  }

  /** The group's committed offsets, read through the stream's consumer (stable: pending transactional offsets are waited out). */
  async load(group: string, partitions: readonly TopicPartition[]): Promise<StoredOffsets> {
    this.lifecycle.assertOpen();
    if (partitions.length === 0) return new Map();
    // Through `run`, so that close waits for the read: it borrows the stream's consumer.
    return this.lifecycle.run(`could not read the committed offsets of group ${group}`, () =>
      this.bindingFor(group).committed(partitions, this.requestTimeoutMs),
    );
  }

  /** Commits offsets (and `state`) alone, as a transaction without output records (fenced like any other). */
  commit(group: string, commits: readonly OffsetCommit[], state?: StateWrite): Promise<void> {
    return this.transaction(group, commits, async () => undefined, state === undefined ? undefined : () => state);
  }

  /** The state of `operator`: the state topic read to its end, the last record of each key winning. */
  async loadState(group: string, operator: string): Promise<LoadedState | undefined> {
    const { stateClient } = this.lifecycle.connection;
    if (stateClient === undefined || this.stateTopic === undefined) {
      throw new OffsetStoreError(STORE, 'has no stateTopic: pass one to keep the state of stateful operators');
    }
    let records;
    try {
      records = await stateClient.readAll(this.stateTopic, this.requestTimeoutMs);
    } catch (error) {
      throw toStoreError(this.name, `could not read the state topic ${this.stateTopic}`, error);
    }
    const fields = new Map<string, string>();
    for (const { key, value } of records) {
      const [recordGroup, recordOperator, field] = parseStateKey(key);
      if (recordGroup !== group || recordOperator !== operator) continue;
      if (value === null) fields.delete(field);
      else fields.set(field, value);
    }
    const meta = fields.get(STATE_META_FIELD);
    if (meta === undefined) return undefined;
    const entries: (readonly [unknown, unknown])[] = [];
    for (const [field, text] of fields) if (field !== STATE_META_FIELD) entries.push(decodeStateRecord(operator, text));
    return { ...decodeStateMeta(operator, meta), entries };
  }

  /**
   * Runs `work` inside one Kafka transaction that also commits `commits`' until offsets to the
   * group: the records sent through `tx` and the offsets become visible together, or neither does.
   */
  async transaction<T>(
    group: string,
    commits: readonly OffsetCommit[],
    work: (tx: KafkaTransaction) => Promise<T>,
    state?: () => StateWrite,
  ): Promise<T> {
    const binding = this.bindingFor(group);
    // Through `use`, so that close waits for the transaction; what `work` throws passes as it is.
    return this.lifecycle.use(({ producer }) => this.runTransaction(producer, binding, group, commits, work, state));
  }

  private runTransaction<T>(
    producer: TransactionalProducer,
    binding: KafkaGroupBinding,
    group: string,
    commits: readonly OffsetCommit[],
    work: (tx: KafkaTransaction) => Promise<T>,
    state: (() => StateWrite) | undefined,
  ): Promise<T> {
    return serializeByGroup(group, async () => {
      if (this.fatal !== undefined) throw this.fencedError();
      let stored: StoredOffsets = new Map();
      try {
        if (commits.length > 0) stored = await binding.committed(partitionsOf(commits), this.requestTimeoutMs);
      } catch (error) {
        throw toStoreError(this.name, `could not read the committed offsets of group ${group}`, error);
      }
      checkExpectedOffsets(this.name, group, commits, stored);
      await this.step(producer, 'could not begin a transaction', () => producer.beginTransaction());

      const sends: Promise<void>[] = [];
      let isOpen = true;
      const tx: KafkaTransaction = {
        send: (topic, key, value, options = {}) => {
          if (!isOpen) {
            return Promise.reject(new IllegalStateError(`the batch's transaction is over; record for ${topic} not sent`));
          }
          const record: OutputRecord = { topic, key, value, partition: options.partition, headers: options.headers };
          const sent = producer.send(record);
          // Marked handled here: the sink awaits every send, so one the output left unawaited
          // does not surface as an unhandled rejection.
          sent.catch(() => undefined);
          sends.push(sent);
          return sent;
        },
      };
      try {
        const result = await work(tx);
        isOpen = false;
        const failed = (await Promise.allSettled(sends)).find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (failed !== undefined) throw toStoreError(this.name, 'a record of the batch was not written', failed.reason);
        if (state !== undefined && this.stateTopic !== undefined) await this.writeState(producer, group, state());
        // A transaction of records alone (dead letters written ahead of their batch) commits no offsets.
        if (commits.length > 0) {
          await this.step(producer, 'could not add the offsets to the transaction', () =>
            producer.sendOffsetsToTransaction(offsetsOf(commits), binding.groupMetadata, this.requestTimeoutMs),
          );
        }
        await this.commitTransaction(producer);
        return result;
      } catch (error) {
        isOpen = false;
        await this.abort(producer);
        // Fencing shows first as purged records or a failed abort: report the cause, not the symptom.
        if (this.fatal !== undefined) throw this.fencedError();
        throw error;
      }
    });
  }

  private async produceDeadLetters(topic: string, group: string, letters: readonly DeadLetter[], tx?: KafkaTransaction): Promise<void> {
    const records = deadLetterRecords(topic, group, letters);
    const send = async (transaction: KafkaTransaction) => {
      await Promise.all(records.map((r) => transaction.send(r.topic, r.key, r.value, { partition: r.partition })));
    };
    if (tx !== undefined) await send(tx);
    else await this.transaction(group, [], send);
  }

  private readDeadLetters(topic: string, group: string): Promise<DeadLetter[]> {
    return this.lifecycle.run(`could not read the dead-letter topic ${topic}`, async ({ stateClient }) =>
      deadLettersOf(await stateClient!.readAll(topic, this.requestTimeoutMs), group),
    );
  }

  /** Produces a batch's state changes to the state topic, in the open transaction, and waits for every acknowledgement. */
  private async writeState(producer: TransactionalProducer, group: string, state: StateWrite): Promise<void> {
    const topic = this.stateTopic!;
    const sends: Promise<void>[] = [];
    for (const write of state) {
      const { set, remove } = encodeStateWrite(write);
      for (const [field, record] of set) sends.push(producer.send({ topic, key: JSON.stringify([group, write.operator, field]), value: record }));
      for (const field of remove) sends.push(producer.send({ topic, key: JSON.stringify([group, write.operator, field]), value: null }));
    }
    const failed = (await Promise.allSettled(sends)).find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw toStoreError(this.name, `a state record for ${topic} was not written`, failed.reason);
  }

  private bindingFor(group: string): KafkaGroupBinding {
    const { binding } = this.lifecycle.connection;
    if (group !== binding.groupId) {
      throw new OffsetStoreError(
        this.name,
        `is bound to group ${binding.groupId} by its Kafka direct stream and cannot serve group ${group}`,
      );
    }
    return binding;
  }

  private fencedError(): OffsetStoreError {
    return new OffsetStoreError(
      this.name,
      `the producer of transactional.id ${this.config['transactional.id']} can no longer commit: ${this.fatal?.message}. ` +
        'A newer producer with the same transactionalId fenced it (another copy of the job took over); this one must stop',
      { cause: this.fatal, retriable: false },
    );
  }

  /** One transaction call; a fatal error (fencing) makes the producer unusable from then on. */
  private async step(producer: TransactionalProducer, what: string, call: () => Promise<void>): Promise<void> {
    try {
      await call();
    } catch (error) {
      if (error instanceof KafkaError && error.isFatal) this.fatal ??= error;
      throw toStoreError(this.name, what, error);
    }
  }

  /**
   * librdkafka's rule for commitTransaction: a retriable error (a timeout) leaves the outcome
   * open and the call is repeated until the coordinator answers; anything else is final.
   */
  private async commitTransaction(producer: TransactionalProducer): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.step(producer, 'could not commit the transaction', () => producer.commitTransaction(this.requestTimeoutMs));
        return;
      } catch (error) {
        const cause = (error as OffsetStoreError).cause as { cause?: { isTxnRequiresAbort?: boolean } } | undefined;
        const requiresAbort = cause?.cause?.isTxnRequiresAbort === true;
        if (attempt >= COMMIT_ATTEMPTS || requiresAbort || !(error as OffsetStoreError).retriable) throw error;
      }
    }
  }

  /** Aborts after a failure; the failure is what the caller reports, so an abort that fails only marks the producer. */
  private async abort(producer: TransactionalProducer): Promise<void> {
    if (this.fatal !== undefined) return;
    try {
      await producer.abortTransaction(this.requestTimeoutMs);
    } catch (error) {
      if (error instanceof KafkaError && error.isFatal) this.fatal = error;
    }
  }
}

/** `[group, operator, field]` of a state topic record's key; anything else (not written by a sink) matches no operator. */
function parseStateKey(key: string): [string, string, string] {
  try {
    const parsed = JSON.parse(key) as unknown;
    if (Array.isArray(parsed) && parsed.length === 3 && parsed.every((part) => typeof part === 'string')) {
      return parsed as [string, string, string];
    }
  } catch {
    // Not JSON: not a state record.
  }
  return ['', '', ''];
}
