import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import * as Kafka from 'node-rdkafka';
import { main } from '@dstream/cli';

/**
 * Where the CLI's integration tests find the real services: the variables `scripts/services env`
 * prints, with the loopback defaults `scripts/services up` starts.
 */
export const services = {
  kafkaBrokers: process.env.DSTREAM_KAFKA_BROKERS ?? '127.0.0.1:9092',
  redisUrl: process.env.DSTREAM_REDIS_URL ?? 'redis://127.0.0.1:6379',
  zkConnect: process.env.DSTREAM_ZK ?? '127.0.0.1:2181',
  pgUrl: process.env.DSTREAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/dstream',
  /** HBase's REST gateway as an `hbase://` (or `hbase+https://`) store URL. */
  hbaseUrl: (process.env.DSTREAM_HBASE_REST ?? 'http://127.0.0.1:18080').replace(/^http(s?):\/\//, (_, s: string) => (s === '' ? 'hbase://' : 'hbase+https://')),
} as const;

/** A name no other test or earlier run uses: `<prefix>-<time>-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

function admin(): Kafka.IAdminClient {
  return Kafka.AdminClient.create({ 'bootstrap.servers': services.kafkaBrokers, 'client.id': 'dstream-cli-tests' });
}

/** Creates a topic (replication factor 1) and writes `records` records to each partition. */
export async function createTopicWithRecords(topic: string, partitions: number, records: number): Promise<void> {
  const client = admin();
  try {
    await new Promise<void>((resolve, reject) =>
      client.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 15_000, (error) =>
        error ? reject(new Error(`creating topic ${topic} failed: ${error.message}`)) : resolve(),
      ),
    );
  } finally {
    client.disconnect();
  }
  const producer = new Kafka.Producer({ 'bootstrap.servers': services.kafkaBrokers, dr_cb: true, 'linger.ms': 5 });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (error) => (error ? reject(error) : resolve())));
  producer.setPollInterval(10);
  let acknowledged = 0;
  producer.on('delivery-report', () => void (acknowledged += 1));
  try {
    for (let partition = 0; partition < partitions; partition++) {
      for (let i = 0; i < records; i++) producer.produce(topic, partition, Buffer.from(`${partition}:${i}`), null, Date.now());
    }
    const deadline = Date.now() + 30_000;
    while (acknowledged < partitions * records) {
      if (Date.now() > deadline) throw new Error(`only ${acknowledged} of ${partitions * records} records to ${topic} acknowledged`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}

/** Deletes the topics a test created. */
export async function deleteTopics(topics: readonly string[]): Promise<void> {
  const client = admin();
  try {
    await Promise.all(topics.map((topic) => new Promise<void>((resolve) => client.deleteTopic(topic, 15_000, () => resolve()))));
  } finally {
    client.disconnect();
  }
}

/**
 * A consumer that joins `group` for `topic`, as a running job would; resolves once it holds an
 * assignment. `stop` leaves the group.
 */
export async function joinGroup(group: string, topic: string): Promise<{ stop(): Promise<void> }> {
  let isAssigned = false;
  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': services.kafkaBrokers,
      'group.id': group,
      'enable.auto.commit': false,
      rebalance_cb: function (this: Kafka.KafkaConsumer, error: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]) {
        if (error.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
          this.assign(assignment);
          isAssigned = true;
        } else this.unassign();
      },
    },
    { 'auto.offset.reset': 'latest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (error) => (error ? reject(error) : resolve())));
  consumer.subscribe([topic]);
  consumer.setDefaultConsumeTimeout(100);
  const poll = setInterval(() => consumer.consume(10, () => undefined), 100);
  const deadline = Date.now() + 30_000;
  while (!isAssigned) {
    if (Date.now() > deadline) throw new Error(`no assignment in group ${group} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    async stop() {
      clearInterval(poll);
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    },
  };
}

/** What one CLI run printed and returned. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** `out` parsed as JSON (for --json runs). */
  json<T = any>(): T;
}

/** Runs the CLI in-process on `argv`, with `stdin` as its standard input. */
export async function runCli(argv: readonly string[], stdin = ''): Promise<CliRun> {
  let out = '';
  let err = '';
  const input = new PassThrough();
  input.end(stdin);
  const code = await main(argv, {
    out: { write: (text: string) => (out += text) },
    err: { isTTY: false, write: (text: string) => (err += text) },
    in: input,
  });
  return { code, out, err, json: () => JSON.parse(out) };
}
