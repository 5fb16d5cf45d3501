/**
 * Failover time of a consumer group: from the SIGKILL of a member to the first batch that reads
 * records of its partitions again, measured on the real broker for four cases:
 *
 * - restart, dynamic membership: the killed member is started again at once (as a supervisor
 *   does); the group waits out the dead member's session before it rebalances.
 * - restart, static membership (`group.instance.id`): the restarted member takes its old place
 *   and its partitions back without a rebalance.
 * - takeover, dynamic / static: a second member stays; the killed one is not restarted, so the
 *   survivor gets its partitions once the session of the dead member times out.
 *
 * Each member is a child process of this script running a dstream job (Subscribe, Redis offsets,
 * at-least-once) that reports every batch with records over IPC. Records keep being produced
 * throughout. `ROUNDS` (default 3) runs per case; medians are printed. Build (`npx tsc -b bench`),
 * start the services, then `node bench/dist/failover.js`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { ConsumerStrategies, KafkaUtils, StreamingContext, silentLogger } from '@dstream/core';
import { RedisOffsetStore } from '@dstream/offsets-redis';
import * as Kafka from 'node-rdkafka';
import { createTopic, deleteTopic, services } from '@dstream/test-utils';
import { kafkaFailure } from './lib/kafka';
import { printTable } from './lib/stats';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PARTITIONS = 4;
/** The stream's default session timeout, stated so the table can say what the figures rest on. */
const SESSION_TIMEOUT_MS = 10_000;

/** What a member reports to the parent after each batch that read records. */
interface BatchReport {
  readonly type: 'batch';
  readonly member: string;
  readonly partitions: readonly number[];
  readonly atMs: number;
}

interface Case {
  readonly label: string;
  readonly isStatic: boolean;
  /** Restart the killed member (true) or leave its partitions to the survivor (false). */
  readonly restarts: boolean;
}

const CASES: readonly Case[] = [
  { label: 'restart, dynamic membership', isStatic: false, restarts: true },
  { label: 'restart, static membership', isStatic: true, restarts: true },
  { label: 'takeover by a survivor, dynamic', isStatic: false, restarts: false },
  { label: 'takeover by a survivor, static', isStatic: true, restarts: false },
];

/** The job a member runs: reads the topic in 200 ms batches and reports which partitions each batch read. */
async function runMember(topic: string, group: string, member: string, isStatic: boolean): Promise<void> {
  const ssc = new StreamingContext({ appName: `failover-${member}`, batchIntervalMs: 200, logger: silentLogger });
  const stream = KafkaUtils.createDirectStream(ssc, {
    kafkaParams: {
      'bootstrap.servers': services.kafkaBrokers,
      'group.id': group,
      ...(isStatic ? { 'group.instance.id': `${group}-${member}` } : {}),
    },
    strategy: ConsumerStrategies.Subscribe([topic]),
    offsetStore: new RedisOffsetStore({ url: services.redisUrl }),
    startingOffsets: 'latest',
    logger: silentLogger,
  });
  stream.foreachBatch((records) => {
    if (records.length === 0) return;
    const partitions = [...new Set(records.map((r) => r.partition))];
    const report: BatchReport = { type: 'batch', member, partitions, atMs: Date.now() };
    process.send?.(report);
  });
  await ssc.start();
  process.send?.({ type: 'started', member });
  await ssc.awaitTermination();
}

/** Writes a few records per partition every 50 ms until stopped. */
function startProducing(topic: string): { stop(): Promise<void> } {
  const producer = new Kafka.Producer({ 'bootstrap.servers': services.kafkaBrokers, 'linger.ms': 5 });
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve, reject) =>
    producer.connect({ timeout: 10_000 }, (error) => (error ? reject(kafkaFailure('connect a producer', error)) : resolve())),
  ).then(() => {
    producer.setPollInterval(50);
    timer = setInterval(() => {
      for (let partition = 0; partition < PARTITIONS; partition++) producer.produce(topic, partition, Buffer.from(String(Date.now())));
    }, 50);
  });
  return {
    async stop() {
      await ready;
      clearInterval(timer);
      await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
    },
  };
}

/** A member process and the batches it reported. */
class Member {
  readonly reports: BatchReport[] = [];
  readonly process: ChildProcess;
  private readonly started: Promise<void>;

  constructor(
    readonly name: string,
    topic: string,
    group: string,
    isStatic: boolean,
  ) {
    this.process = fork(__filename, ['member', topic, group, name, String(isStatic)], { stdio: 'inherit' });
    this.started = new Promise((resolve) =>
      this.process.on('message', (message: BatchReport | { type: 'started' }) => {
        if (message.type === 'started') resolve();
        else this.reports.push(message);
      }),
    );
  }

  /** Resolves once the member's context started (it owns partitions). */
  whenStarted(): Promise<void> {
    return this.started;
  }

  /** Partitions it read in batches reported after `sinceMs`. */
  partitionsSince(sinceMs: number): Set<number> {
    return new Set(this.reports.filter((r) => r.atMs >= sinceMs).flatMap((r) => r.partitions));
  }

  kill(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill('SIGKILL');
    return exited;
  }

  stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill('SIGTERM');
    return exited;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One run of a case: the ms from the kill to the first batch reading every partition the killed member had. */
async function measure(topic: string, group: string, failoverCase: Case): Promise<number> {
  const victim = new Member('a', topic, group, failoverCase.isStatic);
  const survivor = failoverCase.restarts ? undefined : new Member('b', topic, group, failoverCase.isStatic);
  const members = [victim, ...(survivor ? [survivor] : [])];
  try {
    await Promise.all(members.map((m) => m.whenStarted()));
    // Settled: every partition is being read, the victim owns some.
    await waitUntil(
      () => {
        const since = Date.now() - 1000;
        const read = new Set(members.flatMap((m) => [...m.partitionsSince(since)]));
        return read.size === PARTITIONS && victim.partitionsSince(since).size > 0;
      },
      60_000,
      'the group to settle',
    );
    const owned = victim.partitionsSince(Date.now() - 1000);
    const killedAtMs = Date.now();
    await victim.kill();
    const taker = failoverCase.restarts ? new Member('a', topic, group, failoverCase.isStatic) : survivor!;
    if (failoverCase.restarts) members.push(taker);
    await waitUntil(
      () => [...owned].every((p) => taker.partitionsSince(killedAtMs).has(p)),
      120_000,
      `partitions ${[...owned].join(',')} to be read again`,
    );
    const firstAtMs = Math.max(
      ...[...owned].map((p) => taker.reports.find((r) => r.atMs >= killedAtMs && r.partitions.includes(p))!.atMs),
    );
    return firstAtMs - killedAtMs;
  } finally {
    await Promise.all(members.map((m) => m.stop()));
  }
}

async function main(): Promise<void> {
  const results: string[][] = [];
  for (const failoverCase of CASES) {
    const timesMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const topic = `dstream-bench-failover-${process.pid}-${Date.now()}`;
      await createTopic(topic, PARTITIONS);
      const producing = startProducing(topic);
      try {
        timesMs.push(await measure(topic, `${topic}-group`, failoverCase));
      } finally {
        await producing.stop();
        await deleteTopic(topic).catch(() => undefined);
      }
    }
    timesMs.sort((a, b) => a - b);
    results.push([
      failoverCase.label,
      (timesMs[Math.floor(timesMs.length / 2)]! / 1000).toFixed(1),
      `${(timesMs[0]! / 1000).toFixed(1)}–${(timesMs[timesMs.length - 1]! / 1000).toFixed(1)}`,
    ]);
  }
  console.log(`failover: SIGKILL of a member to its partitions read again; session.timeout.ms ${SESSION_TIMEOUT_MS}, ${ROUNDS} rounds`);
  printTable(['case', 'median s', 'range s'], results);
}

if (process.argv[2] === 'member') {
  const [, , , topic, group, member, isStatic] = process.argv;
  runMember(topic!, group!, member!, isStatic === 'true').catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
