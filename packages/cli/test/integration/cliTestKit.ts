import { PassThrough } from 'node:stream';
import * as Kafka from 'node-rdkafka';
import { main } from '@dstream/cli';
import { createTopic, deleteTopic, produce, services as sharedServices } from '@dstream/test-utils';

export { uniqueName } from '@dstream/test-utils';

/** The shared services, with HBase's REST gateway as an `hbase://` (or `hbase+https://`) store URL. */
export const services = {
  ...sharedServices,
  hbaseUrl: sharedServices.hbaseRest.replace(/^http(s?):\/\//, (_, s: string) => (s === '' ? 'hbase://' : 'hbase+https://')),
} as const;

/** Creates a topic (replication factor 1) and writes `records` records to each partition. */
export async function createTopicWithRecords(topic: string, partitions: number, records: number): Promise<void> {
  await createTopic(topic, partitions);
  await produce(topic, Array.from({ length: partitions }, (_, partition) => partition), records);
}

/** Deletes the topics a test created. */
export async function deleteTopics(topics: readonly string[]): Promise<void> {
  await Promise.all(topics.map((topic) => deleteTopic(topic).catch(() => undefined)));
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
