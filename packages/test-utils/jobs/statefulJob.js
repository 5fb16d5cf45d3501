'use strict';
/**
 * The stateful job the state crash harness kills and restarts: reads a 4-partition topic whose
 * records are `<partition>:<n>`, where record n belongs to user `u<n % USERS>` and carries the
 * amount `n % 10 + 1`, and keeps
 *  - a running total per user with `mapWithState` (state `totals`), writing each user's latest
 *    total after every batch;
 *  - a count per user over a sliding window with `reduceByKeyAndWindow` and its inverse function
 *    (state `windowCounts`), writing each window's counts;
 *  - each batch's offset ranges, per-user record counts and the process that ran it.
 * Every write goes through the offset store's transaction (CRASH_STORE redis, postgres, or kafka:
 * `KafkaTransactionalSink` with a state topic, the results produced to a topic), exactly-once,
 * together with the offsets and the operators' state changes.
 *
 * With CRASH_STRATEGY=subscribe the job is one member of the consumer group CRASH_GROUP
 * (ConsumerStrategies.Subscribe): users are then per partition (`p<partition>u<n % USERS>`, so
 * keys are co-partitioned, as state kept per source partition requires), results are written
 * under `<time>/<pid>` (two members run batches of the same time), and each window result names
 * the partitions its batch read.
 *
 * Plain JavaScript on the packages' compiled `dist`. Prints one JSON line per event on stdout
 * ({"event":"started","restoreMs":…}, {"event":"batchStarted"}, {"event":"batch"}, {"event":"done"})
 * and exits 0 once the store holds offsets for all CRASH_RECORDS records, or on SIGTERM.
 */
const path = require('node:path');

const root = path.resolve(__dirname, '../../..');
const { ConsumerStrategies, KafkaUtils, StateSpec, StreamingContext, silentLogger } = require(path.join(root, 'packages/core/dist/index.js'));

function setting(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set; the state crash harness sets it`);
  return value;
}

const PARTITIONS = 4;
const USERS = Number(setting('CRASH_USERS', '13'));
const storeName = setting('CRASH_STORE');
const topic = setting('CRASH_TOPIC');
const group = setting('CRASH_GROUP');
const run = setting('CRASH_RUN');
const records = Number(setting('CRASH_RECORDS'));
const batchIntervalMs = Number(setting('CRASH_BATCH_INTERVAL_MS', '250'));
const windowMs = Number(setting('CRASH_WINDOW_MS', '3000'));
const slideMs = Number(setting('CRASH_SLIDE_MS', '500'));
const ratePerPartition = Number(setting('CRASH_RATE_PER_PARTITION', '200'));
const outputDelayMs = Number(setting('CRASH_OUTPUT_DELAY_MS', '30'));
const brokers = setting('DSTREAM_KAFKA_BROKERS', '127.0.0.1:9092');
const redisUrl = setting('DSTREAM_REDIS_URL', 'redis://127.0.0.1:6379');
const pgUrl = setting('DSTREAM_PG_URL', 'postgres://postgres@127.0.0.1:5432/dstream');
const isMember = setting('CRASH_STRATEGY', 'assign') === 'subscribe';

/** The offset store, and how a result (`kind`, `id`, JSON value) is written through its transaction. */
const backends = {
  redis() {
    const { RedisOffsetStore } = require(path.join(root, 'packages/offsets-redis/dist/index.js'));
    return {
      offsetStore: new RedisOffsetStore({ url: redisUrl, keyPrefix: `dstream-state-crash:${run}:offsets` }),
      write: (tx, kind, id, value) => void tx.hset(`dstream-state-crash:${run}:${kind}`, id, JSON.stringify(value)),
    };
  },
  // Results are records of one topic, `{ kind, id, value }`, in the batch's Kafka transaction.
  kafka() {
    const { KafkaTransactionalSink } = require(path.join(root, 'packages/offsets-kafka/dist/index.js'));
    const resultsTopic = `dstream-${run}-results`;
    return {
      // One stable transactional.id per job: a restarted run fences the killed one and aborts its open transaction.
      offsetStore: new KafkaTransactionalSink({ brokers, transactionalId: `${run}-tx`, stateTopic: `dstream-${run}-state` }),
      prepare: () => createTopicIfMissing(resultsTopic, 1),
      // Not awaited: the sink waits for every record before it commits.
      write: (tx, kind, id, value) => void tx.send(resultsTopic, null, JSON.stringify({ kind, id, value })),
    };
  },
  postgres() {
    const { PostgresOffsetStore } = require(path.join(root, 'packages/offsets-postgres/dist/index.js'));
    return {
      offsetStore: new PostgresOffsetStore({ connectionString: pgUrl }),
      write: (tx, kind, id, value) =>
        tx.query(
          `INSERT INTO dstream_state_crash (run, kind, id, value) VALUES ($1, $2, $3, $4)
           ON CONFLICT (run, kind, id) DO UPDATE SET value = EXCLUDED.value`,
          [run, kind, id, JSON.stringify(value)],
        ),
    };
  },
};

/** Creates a topic with replication factor 1 unless it exists. */
function createTopicIfMissing(name, partitions) {
  const { createTopic } = require(path.join(root, 'packages/test-utils/dist/index.js'));
  return createTopic(name, partitions, { brokers, timeoutMs: 30000, ifMissing: true });
}

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

/** User and amount of a record `<partition>:<n>`. */
function parse(value) {
  const colon = value.indexOf(':');
  const n = Number(value.slice(colon + 1));
  return [isMember ? `p${value.slice(0, colon)}u${n % USERS}` : `u${n % USERS}`, (n % 10) + 1];
}

/** The id a batch's results are written under: its time, and with several members the process too. */
function idOf(time) {
  return isMember ? `${time}/${process.pid}` : String(time);
}

async function main() {
  const backend = backends[storeName];
  if (backend === undefined) throw new Error(`CRASH_STORE ${storeName} is not one of ${Object.keys(backends).join(', ')}`);
  const { offsetStore, write, prepare } = backend();
  await prepare?.();
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  let restoreMs;
  const logger = {
    ...silentLogger,
    info(message, fields) {
      if (fields !== undefined && typeof fields.restoreMs === 'number') restoreMs = fields.restoreMs;
    },
  };

  // SIGTERM from the harness is a graceful stop; SIGKILL is the crash under test.
  const ssc = new StreamingContext({ appName: 'state-crash-test', batchIntervalMs, logger: silentLogger });
  const stream = KafkaUtils.createDirectStream(ssc, {
    // A dead member's partitions move to the other after its session times out (6 s: the broker's least).
    kafkaParams: { 'bootstrap.servers': brokers, 'group.id': group, ...(isMember ? { 'session.timeout.ms': 6000 } : {}) },
    strategy: isMember ? ConsumerStrategies.Subscribe([topic]) : ConsumerStrategies.Assign(partitions),
    offsetStore,
    delivery: 'exactly-once',
    startingOffsets: 'earliest',
    maxRatePerPartition: ratePerPartition,
    valueDeserializer: 'string',
    logger,
  });
  const purchases = stream.map((record) => parse(record.value));

  // Running total per user.
  const totals = purchases.mapWithState(
    StateSpec.function((user, amount, state) => {
      const total = (state.getOption() ?? 0) + amount;
      state.update(total);
      return [user, total];
    }).name('totals'),
  );
  // Records per user in the last windowMs, updated incrementally.
  const windowCounts = purchases
    .map(([user]) => [user, 1])
    .reduceByKeyAndWindow((a, b) => a + b, windowMs, slideMs, {
      invFunc: (a, b) => a - b,
      filterFunc: ([, count]) => count > 0,
      name: 'windowCounts',
    });

  stream.foreachBatch(async (batchRecords, batch) => {
    emit('batchStarted', { records: batchRecords.length });
    await new Promise((resolve) => setTimeout(resolve, outputDelayMs));
    const counts = {};
    for (const record of batchRecords) {
      const [user] = parse(record.value);
      counts[user] = (counts[user] ?? 0) + 1;
    }
    const ranges = batch.offsetRanges.map((r) => [r.partition, r.fromOffset, r.untilOffset]);
    await write(batch.transaction, 'batch', idOf(batch.time), { pid: process.pid, ranges, counts });
  });
  totals.foreachBatch(async (pairs, batch) => {
    const latest = new Map(pairs);
    for (const [user, total] of latest) await write(batch.transaction, 'total', user, total);
  });
  windowCounts.foreachBatch(async (pairs, batch) => {
    const counts = Object.fromEntries(pairs);
    const value = isMember ? { partitions: batch.offsetRanges.map((r) => r.partition), counts } : counts;
    await write(batch.transaction, 'window', idOf(batch.time), value);
  });

  let isStopping = false;
  // The context stops itself on SIGTERM; the job only needs to know it is going.
  let isTerminating = false;
  process.once('SIGTERM', () => {
    isTerminating = true;
  });
  // The checks run one after another and are awaited before the process exits: a store read still
  // running in the client library's threads at process.exit can take the process down with it.
  let checking = Promise.resolve();
  ssc.addStreamingListener({
    onBatchCompleted({ info }) {
      if (info.failure !== undefined) return;
      emit('batch', { records: info.numRecords });
      checking = checking.then(async () => {
        if (isStopping || isTerminating) return;
        let stored;
        try {
          stored = await offsetStore.load(group, partitions);
        } catch (error) {
          // SIGTERM stops the context, which closes the store under a check already running: the
          // stop is what counts then. A failed read while the job runs fails the job.
          if (isTerminating) return;
          throw error;
        }
        const committed = [...stored.values()].reduce((sum, offset) => sum + offset, 0);
        if (committed >= records) {
          isStopping = true;
          void ssc.stop({ graceful: true });
        }
      });
    },
  });

  await ssc.start();
  emit('started', { restoreMs });
  await ssc.awaitTermination();
  await checking;
  emit('done');
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
