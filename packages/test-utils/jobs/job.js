'use strict';
/**
 * The job the crash harness and the chaos runner kill and restart: reads every record of a topic
 * in micro-batches and counts each record's id in an effects table (Redis hash or PostgreSQL
 * table), committing offsets to the store named by CRASH_STORE with CRASH_DELIVERY semantics.
 * Exactly-once writes the counts inside the store's transaction; at-least-once writes them, then
 * commits.
 *
 * Two modes, by CRASH_STRATEGY: `assign` (default) reads the CRASH_PARTITIONS (default 4)
 * partitions of the topic by itself and exits 0 once the store holds offsets for all
 * CRASH_RECORDS records (then stops gracefully); `subscribe` is one member of the consumer group
 * CRASH_GROUP, reads the partitions the group gives it (including partitions added while it runs)
 * and runs until SIGTERM.
 *
 * Plain JavaScript on the packages' compiled `dist`, so it runs as the child process a user's job
 * would be, without a TypeScript loader. Prints one JSON line per event on stdout:
 * {"event":"started"}, {"event":"batchStarted","records":n},
 * {"event":"batch","records":n,"ranges":[[partition,from,until,seen]]} (seen: records of the
 * partition the output got),
 * {"event":"assigned","partitions":[0,1]}, {"event":"revoked","partitions":[1]},
 * {"event":"zkSession","id":"…","password":"…"} (ZooKeeper store), {"event":"done"}, each with
 * `at` (epoch ms). Warnings and errors the context and the stream log go to stderr.
 *
 * CRASH_POISON_EVERY=n makes every record whose number is a multiple of n throw in the job's
 * `map` (a poison record), under `recordErrors: { policy: 'dead-letter', maxAttempts: 2 }`: the
 * record is set aside as a dead letter in the batch's commit and the job goes on.
 */
const path = require('node:path');

const root = path.resolve(__dirname, '../../..');
const { ConsumerStrategies, KafkaUtils, StreamingContext } = require(path.join(root, 'packages/core/dist/index.js'));

function setting(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set; the crash harness sets it`);
  return value;
}

const storeName = setting('CRASH_STORE');
const delivery = setting('CRASH_DELIVERY');
const topic = setting('CRASH_TOPIC');
const group = setting('CRASH_GROUP');
const run = setting('CRASH_RUN');
const strategyName = setting('CRASH_STRATEGY', 'assign');
const partitionCount = Number(setting('CRASH_PARTITIONS', '4'));
// Only the assign mode stops by itself; a group member runs until it is told to stop.
const records = strategyName === 'assign' ? Number(setting('CRASH_RECORDS')) : Infinity;
// The group protocol's session timeout: how long a SIGKILLed member keeps its partitions.
const sessionTimeoutMs = process.env.CRASH_SESSION_TIMEOUT_MS;
// Read-ahead bound: a partition with this many records buffered past its batch is paused.
const maxBufferedRecords = process.env.CRASH_MAX_BUFFERED_RECORDS;
const batchIntervalMs = Number(setting('CRASH_BATCH_INTERVAL_MS', '250'));
const ratePerPartition = Number(setting('CRASH_RATE_PER_PARTITION', '1000'));
// Time the output takes, so that kills land inside output and commit, not only between batches.
const outputDelayMs = Number(setting('CRASH_OUTPUT_DELAY_MS', '40'));
const brokers = setting('DSTREAM_KAFKA_BROKERS', '127.0.0.1:9092');
const redisUrl = setting('DSTREAM_REDIS_URL', 'redis://127.0.0.1:6379');
const pgUrl = setting('DSTREAM_PG_URL', 'postgres://postgres@127.0.0.1:5432/dstream');
const poisonEvery = Number(setting('CRASH_POISON_EVERY', '0'));

/** A poison record: its number (`<partition>:<n>`) is a multiple of CRASH_POISON_EVERY. */
function isPoison(id) {
  return poisonEvery > 0 && Number(id.slice(id.indexOf(':') + 1)) % poisonEvery === 0;
}

/** Counts record ids in a Redis hash, outside any offset store transaction. */
function redisEffects() {
  const { Redis } = require('ioredis');
  const key = `dstream-crash:${run}:effects`;
  const client = new Redis(redisUrl);
  return {
    key,
    writeDirectly: async (ids) => {
      const pipeline = client.pipeline();
      ids.forEach((id) => pipeline.hincrby(key, id, 1));
      await pipeline.exec();
    },
    close: () => client.quit(),
  };
}

/** Where offsets go and how record ids are counted: through the store's transaction, or directly. */
const backends = {
  redis() {
    const { RedisOffsetStore } = require(path.join(root, 'packages/offsets-redis/dist/index.js'));
    const effects = redisEffects();
    return {
      offsetStore: new RedisOffsetStore({ url: redisUrl }),
      writeInTransaction: (tx, ids) => void ids.forEach((id) => tx.hincrby(effects.key, id, 1)),
      writeDirectly: effects.writeDirectly,
      close: effects.close,
    };
  },
  // Stores without transactions count effects in Redis; they run at-least-once only.
  zookeeper() {
    const { ZooKeeperOffsetStore } = require(path.join(root, 'packages/offsets-zookeeper/dist/index.js'));
    const connectionString = setting('DSTREAM_ZK', '127.0.0.1:2181');
    const { writeDirectly, close } = redisEffects();
    return { offsetStore: new ZooKeeperOffsetStore({ connectionString, root: '/dstream-crash' }), writeDirectly, close };
  },
  hbase() {
    const { HBaseOffsetStore } = require(path.join(root, 'packages/offsets-hbase/dist/index.js'));
    const url = setting('DSTREAM_HBASE_REST', 'http://127.0.0.1:18080');
    const { writeDirectly, close } = redisEffects();
    return { offsetStore: new HBaseOffsetStore({ url, table: 'crash' }), writeDirectly, close };
  },
  checkpoint() {
    const { CheckpointOffsetStore } = require(path.join(root, 'packages/offsets-checkpoint/dist/index.js'));
    const directory = path.join(require('node:os').tmpdir(), 'dstream-crash-checkpoints');
    const { writeDirectly, close } = redisEffects();
    return { offsetStore: new CheckpointOffsetStore({ directory }), writeDirectly, close };
  },
  // Exactly-once: the transactional sink writes each id to a topic in the batch's Kafka transaction.
  // At-least-once: offsets in the consumer group, effects counted in Redis.
  kafka() {
    const { KafkaOffsetStore, KafkaTransactionalSink } = require(path.join(root, 'packages/offsets-kafka/dist/index.js'));
    if (delivery !== 'exactly-once') {
      const { writeDirectly, close } = redisEffects();
      return { offsetStore: new KafkaOffsetStore(), writeDirectly, close };
    }
    const effectsTopic = `dstream-${run}-effects`;
    return {
      // One stable transactional.id per job: a restarted run fences the killed one and aborts its open transaction.
      offsetStore: new KafkaTransactionalSink({ brokers, transactionalId: `${run}-tx` }),
      prepare: () => createTopicIfMissing(effectsTopic, 1),
      writeInTransaction: (tx, ids) => Promise.all(ids.map((id) => tx.send(effectsTopic, null, id))),
      close: async () => undefined,
    };
  },
  postgres() {
    const { Pool } = require('pg');
    const { PostgresOffsetStore } = require(path.join(root, 'packages/offsets-postgres/dist/index.js'));
    const pool = new Pool({ connectionString: pgUrl });
    const insert = (client, ids) =>
      client.query(
        `INSERT INTO dstream_crash_effects (run, record, n) SELECT $1, unnest($2::text[]), 1
         ON CONFLICT (run, record) DO UPDATE SET n = dstream_crash_effects.n + 1`,
        [run, ids],
      );
    return {
      offsetStore: new PostgresOffsetStore({ connectionString: pgUrl }),
      writeInTransaction: insert,
      writeDirectly: (ids) => insert(pool, ids),
      close: () => pool.end(),
    };
  },
};

/** Creates a topic with replication factor 1 unless it exists. */
function createTopicIfMissing(name, partitions) {
  const { createTopic } = require(path.join(root, 'packages/test-utils/dist/index.js'));
  return createTopic(name, partitions, { brokers, timeoutMs: 30000, ifMissing: true });
}

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields, at: Date.now() })}\n`);
}

/**
 * The stream's logger: rebalances become `assigned`/`revoked` events (partition numbers, from the
 * `<topic>-<partition>@<offset>` the stream logs), warnings and errors go to stderr.
 */
const streamLogger = {
  debug: () => undefined,
  info(message, fields) {
    const kind = /partitions (assigned|revoked)$/.exec(message)?.[1];
    if (kind === undefined) return;
    const partitions = (fields?.partitions ?? []).map((p) => Number(/-(\d+)(@\d+)?$/.exec(p)[1]));
    emit(kind, { partitions });
  },
  warn: (message, fields) => process.stderr.write(`warn ${message} ${JSON.stringify(fields ?? {})}\n`),
  error: (message, fields) => process.stderr.write(`error ${message} ${JSON.stringify(fields ?? {})}\n`),
};

/**
 * Prints the ZooKeeper store's session id and password whenever its session changes, so the chaos
 * runner can end the session from outside (ZooKeeper expires a session whose id another client
 * connects with and closes). Reads the store's private client: this is test code.
 */
function reportZooKeeperSession(offsetStore) {
  if (storeName !== 'zookeeper') return;
  const client = offsetStore.client;
  if (client === undefined || client === reportZooKeeperSession.last) return;
  const id = client.getSessionId();
  if (id === undefined || id.length === 0) return;
  reportZooKeeperSession.last = client;
  emit('zkSession', { id: id.toString('hex'), password: client.getSessionPassword().toString('hex') });
}

async function main() {
  const backend = backends[storeName];
  if (backend === undefined) throw new Error(`CRASH_STORE ${storeName} is not one of ${Object.keys(backends).join(', ')}`);
  const { offsetStore, writeInTransaction, writeDirectly, close, prepare } = backend();
  await prepare?.();
  const partitions = Array.from({ length: partitionCount }, (_, partition) => ({ topic, partition }));
  const isMember = strategyName === 'subscribe';
  if (!isMember && strategyName !== 'assign') throw new Error(`CRASH_STRATEGY ${strategyName} is not assign or subscribe`);

  // SIGTERM from the harness is a graceful stop; SIGKILL is the crash under test.
  const ssc = new StreamingContext({ appName: 'crash-test', batchIntervalMs, logger: streamLogger });
  const stream = KafkaUtils.createDirectStream(ssc, {
    kafkaParams: {
      'bootstrap.servers': brokers,
      'group.id': group,
      ...(sessionTimeoutMs === undefined ? {} : { 'session.timeout.ms': Number(sessionTimeoutMs) }),
    },
    strategy: isMember ? ConsumerStrategies.Subscribe([topic]) : ConsumerStrategies.Assign(partitions),
    offsetStore,
    delivery,
    startingOffsets: 'earliest',
    maxRatePerPartition: ratePerPartition,
    valueDeserializer: 'string',
    // Partitions added while the job runs are found within a few seconds.
    ...(isMember ? { metadataRefreshMs: 2000 } : {}),
    ...(maxBufferedRecords === undefined ? {} : { maxBufferedRecordsPerPartition: Number(maxBufferedRecords) }),
    recordErrors: poisonEvery > 0 ? { policy: 'dead-letter', maxAttempts: 2, maxPerBatch: 10000 } : 'fail',
    logger: streamLogger,
  });
  // What each batch's output saw, per partition, for the `batch` event: a trace of any record lost.
  const seenByBatch = new Map();
  stream
    .map((record) => record.value)
    .map((id) => {
      if (isPoison(id)) throw new Error(`poison record ${id}`);
      return id;
    })
    .foreachBatch(async (ids, batch) => {
      const seen = {};
      for (const id of ids) {
        const partition = id.slice(0, id.indexOf(':'));
        seen[partition] = (seen[partition] ?? 0) + 1;
      }
      seenByBatch.set(batch.time, seen);
      emit('batchStarted', { records: ids.length });
      await new Promise((resolve) => setTimeout(resolve, outputDelayMs));
      if (batch.transaction !== undefined) await writeInTransaction(batch.transaction, ids);
      else await writeDirectly(ids);
    });

  let isStopping = false;
  ssc.addStreamingListener({
    async onBatchCompleted({ info }) {
      const seen = seenByBatch.get(info.batchTimeMs) ?? {};
      seenByBatch.delete(info.batchTimeMs);
      if (info.failure !== undefined) return;
      // Each range as [partition, from, until, records the output saw of it].
      const ranges = info.offsetRanges
        .filter((range) => range.untilOffset > range.fromOffset)
        .map((range) => [range.partition, range.fromOffset, range.untilOffset, seen[range.partition] ?? 0]);
      emit('batch', { records: info.numRecords, ranges });
      reportZooKeeperSession(offsetStore);
      if (isStopping || isMember) return;
      const stored = await offsetStore.load(group, partitions);
      const committed = [...stored.values()].reduce((sum, offset) => sum + offset, 0);
      if (committed >= records) {
        isStopping = true;
        void ssc.stop({ graceful: true });
      }
    },
  });

  await ssc.start();
  emit('started');
  reportZooKeeperSession(offsetStore);
  try {
    await ssc.awaitTermination();
  } finally {
    await close();
  }
  emit('done');
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
