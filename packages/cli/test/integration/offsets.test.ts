import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OffsetRange, StaleOffsetError } from '@dstream/core';
import type { OffsetStore } from '@dstream/core';
import { ExitCode, parseStoreUrl } from '@dstream/cli';
import { createTopicWithRecords, deleteTopics, joinGroup, runCli, services, uniqueName } from './cliTestKit';
import { OffsetsSession } from '../../src/offsets/OffsetsSession';

const checkpointDir = mkdtempSync(join(tmpdir(), 'dstream-cli-'));
const topics: string[] = [];

/** Every store kind by URL, as a user would name it. */
const STORES: ReadonlyArray<readonly [string, string]> = [
  ['kafka', `kafka://${services.kafkaBrokers}`],
  ['redis', services.redisUrl],
  ['zookeeper', `zookeeper://${services.zkConnect}`],
  ['hbase', services.hbaseUrl],
  ['postgres', services.pgUrl],
  ['checkpoint', `file://${checkpointDir}`],
];

/** Opens the store at `url` the way the CLI does, runs `work`, closes it. */
async function withStore<T>(url: string, work: (store: OffsetStore) => Promise<T>): Promise<T> {
  const store = parseStoreUrl('--store', url).create({ mustExist: false, timeoutMs: 10_000 });
  await store.connect();
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** The store's offsets of `topic`'s partitions 0..2 as [p0, p1, p2] (null: none). */
async function storedOf(url: string, group: string, topic: string): Promise<Array<number | null>> {
  return withStore(url, async (store) => {
    const stored = await store.load(group, [0, 1, 2].map((partition) => ({ topic, partition })));
    return [0, 1, 2].map((partition) => stored.get(`${topic}:${partition}`) ?? null);
  });
}

async function newTopic(): Promise<string> {
  const topic = uniqueName('cli-offsets');
  topics.push(topic);
  await createTopicWithRecords(topic, 3, 10);
  return topic;
}

afterAll(async () => {
  await deleteTopics(topics);
  rmSync(checkpointDir, { recursive: true, force: true });
});

describe.each(STORES)('dstream offsets on the %s store', (kind, url) => {
  let topic: string;
  let group: string;

  beforeAll(async () => {
    topic = await newTopic();
    group = uniqueName(`cli-${kind}`);
    await withStore(url, (store) =>
      store.commit(group, [
        { range: OffsetRange.create(topic, 0, 0, 4), expectedOffset: null },
        { range: OffsetRange.create(topic, 1, 0, 10), expectedOffset: null },
      ]),
    );
  });

  it('shows the stored offset, log end and lag of every partition', async () => {
    const run = await runCli(['offsets', 'show', '--store', url, '--group', group, '--topic', topic, '--json']);
    expect(run.err).toBe('');
    expect(run.code).toBe(ExitCode.OK);
    const shown = run.json();
    expect(shown.members).toBe(0);
    expect(shown.totalLag).toBe(6);
    expect(shown.partitions).toEqual([
      { topic, partition: 0, committed: 4, logStart: 0, logEnd: 10, lag: 6 },
      { topic, partition: 1, committed: 10, logStart: 0, logEnd: 10, lag: 0 },
      { topic, partition: 2, committed: null, logStart: 0, logEnd: 10, lag: null },
    ]);

    const table = await runCli(['offsets', 'show', '--store', url, '--group', group, '--topic', topic]);
    expect(table.out).toMatch(new RegExp(`TOPIC +PARTITION +COMMITTED +LOG-START +LOG-END +LAG\\n${topic} +0 +4 +0 +10 +6\\n`));
    expect(table.out).toContain('total lag 6');
  });

  it('prints a reset plan without writing it unless --execute, then writes it', async () => {
    const dryRun = await runCli(['offsets', 'reset', '--store', url, '--group', group, '--topic', topic, '--to-earliest']);
    expect(dryRun.code).toBe(ExitCode.OK);
    expect(dryRun.out).toContain('dry run: 3 of 3 partition(s) would change');
    expect(await storedOf(url, group, topic)).toEqual([4, 10, null]);

    const executed = await runCli(['offsets', 'reset', '--store', url, '--group', group, '--topic', topic, '--to-earliest', '--execute']);
    expect(executed.err).toBe('');
    expect(executed.code).toBe(ExitCode.OK);
    expect(executed.out).toContain('wrote 3 partition(s)');
    expect(await storedOf(url, group, topic)).toEqual([0, 0, 0]);
  });

  it('shifts chosen partitions, resets to a time, to an offset (clamped to the log) and to the end', async () => {
    const reset = (...flags: string[]) => runCli(['offsets', 'reset', '--store', url, '--group', group, '--topic', topic, '--execute', ...flags]);
    expect((await reset('--shift-by', '7', '--partition', '1,2')).code).toBe(ExitCode.OK);
    expect(await storedOf(url, group, topic)).toEqual([0, 7, 7]);

    // Every record was written before now: the first at or after an hour ago is offset 0.
    expect((await reset('--to-datetime', new Date(Date.now() - 3_600_000).toISOString(), '--partition', '1')).code).toBe(ExitCode.OK);
    expect(await storedOf(url, group, topic)).toEqual([0, 0, 7]);

    const clamped = await reset('--to-offset', '50', '--partition', '0', '--json');
    expect(clamped.json().partitions).toEqual([
      { topic, partition: 0, current: 0, target: 10, changes: true, note: '50 is past the log end: clamped' },
    ]);
    expect(await storedOf(url, group, topic)).toEqual([10, 0, 7]);

    // No record is at or after a time in the future: the log end.
    expect((await reset('--to-datetime', new Date(Date.now() + 3_600_000).toISOString())).code).toBe(ExitCode.OK);
    expect(await storedOf(url, group, topic)).toEqual([10, 10, 10]);
    expect((await reset('--to-offset', '3')).code).toBe(ExitCode.OK);
    expect((await reset('--to-latest', '--partition', '2')).code).toBe(ExitCode.OK);
    expect(await storedOf(url, group, topic)).toEqual([3, 3, 10]);
  });

  it('exports the offsets as JSON and imports them into another group', async () => {
    const exported = await runCli(['offsets', 'export', '--store', url, '--group', group, '--topic', topic]);
    expect(exported.code).toBe(ExitCode.OK);
    expect(exported.json()).toMatchObject({
      format: 'dstream-offsets-export',
      version: 1,
      group,
      offsets: [
        { topic, partition: 0, offset: 3 },
        { topic, partition: 1, offset: 3 },
        { topic, partition: 2, offset: 10 },
      ],
    });
    const copy = `${group}-copy`;
    const dryRun = await runCli(['offsets', 'import', '-', '--store', url, '--group', copy], exported.out);
    expect(dryRun.code).toBe(ExitCode.OK);
    expect(await storedOf(url, copy, topic)).toEqual([null, null, null]);
    const imported = await runCli(['offsets', 'import', '-', '--store', url, '--group', copy, '--execute'], exported.out);
    expect(imported.err).toBe('');
    expect(imported.code).toBe(ExitCode.OK);
    expect(await storedOf(url, copy, topic)).toEqual([3, 3, 10]);
  });

  it('refuses to write while a job is in the group, unless --force', async () => {
    const member = await joinGroup(group, topic);
    try {
      const dryRun = await runCli(['offsets', 'reset', '--store', url, '--group', group, '--topic', topic, '--to-earliest']);
      expect(dryRun.code).toBe(ExitCode.OK);
      expect(dryRun.out).toMatch(/group state \w+, 1 active member\(s\)/);

      const refused = await runCli(['offsets', 'reset', '--store', url, '--group', group, '--topic', topic, '--to-earliest', '--execute']);
      expect(refused.code).toBe(ExitCode.GROUP_ACTIVE);
      expect(refused.err).toContain(`consumer group ${group} has 1 active member(s)`);
      expect(refused.err).toContain('--force');
      expect(await storedOf(url, group, topic)).toEqual([3, 3, 10]);

      const forced = await runCli(['offsets', 'reset', '--store', url, '--group', group, '--topic', topic, '--to-earliest', '--execute', '--force']);
      if (kind === 'kafka') {
        // Kafka itself refuses a commit from outside a group that has members.
        expect(forced.code).toBe(ExitCode.FAILED);
        expect(await storedOf(url, group, topic)).toEqual([3, 3, 10]);
      } else {
        expect(forced.code).toBe(ExitCode.OK);
        expect(await storedOf(url, group, topic)).toEqual([0, 0, 0]);
      }
    } finally {
      await member.stop();
    }
  });
});

describe('dstream offsets migrate', () => {
  it('moves a group from ZooKeeper to Kafka to Redis, with a dry run and compare-and-set on the target', async () => {
    const topic = await newTopic();
    const group = uniqueName('cli-migrate');
    const zookeeper = `zookeeper://${services.zkConnect}`;
    const kafka = `kafka://${services.kafkaBrokers}`;
    await withStore(zookeeper, (store) =>
      store.commit(group, [0, 1, 2].map((p) => ({ range: OffsetRange.create(topic, p, 0, 2 + p), expectedOffset: null }))),
    );

    const dryRun = await runCli(['offsets', 'migrate', '--from', zookeeper, '--to', kafka, '--group', group, '--topic', topic]);
    expect(dryRun.code).toBe(ExitCode.OK);
    expect(dryRun.out).toContain('dry run: 3 of 3 partition(s) would change');
    expect(await storedOf(kafka, group, topic)).toEqual([null, null, null]);

    expect((await runCli(['offsets', 'migrate', '--from', zookeeper, '--to', kafka, '--group', group, '--execute'])).code).toBe(ExitCode.OK);
    expect(await storedOf(kafka, group, topic)).toEqual([2, 3, 4]);

    // Redis already holds a different offset for partition 0: kept unless --overwrite.
    await withStore(services.redisUrl, (store) => store.commit(group, [{ range: OffsetRange.create(topic, 0, 0, 9), expectedOffset: null }]));
    const kept = await runCli(['offsets', 'migrate', '--from', kafka, '--to', services.redisUrl, '--group', group, '--topic', topic, '--execute']);
    expect(kept.code).toBe(ExitCode.OK);
    expect(kept.out).toContain('target holds 9: kept (--overwrite replaces)');
    expect(await storedOf(services.redisUrl, group, topic)).toEqual([9, 3, 4]);
    const overwritten = await runCli(['offsets', 'migrate', '--from', kafka, '--to', services.redisUrl, '--group', group, '--topic', topic, '--execute', '--overwrite']);
    expect(overwritten.code).toBe(ExitCode.OK);
    expect(await storedOf(services.redisUrl, group, topic)).toEqual([2, 3, 4]);
  });
});

describe('dstream offsets without --topic', () => {
  it('finds every topic the group has offsets for in the cluster, and resets them all with --all-topics', async () => {
    const [first, second, other] = [await newTopic(), await newTopic(), await newTopic()];
    const group = uniqueName('cli-all-topics');
    const url = `zookeeper://${services.zkConnect}`;
    await withStore(url, (store) =>
      store.commit(group, [
        { range: OffsetRange.create(first, 1, 0, 4), expectedOffset: null },
        { range: OffsetRange.create(second, 0, 0, 6), expectedOffset: null },
      ]),
    );
    const shown = (await runCli(['offsets', 'show', '--store', url, '--group', group, '--json'])).json();
    expect(shown.partitions.map((p: { topic: string; partition: number; committed: number | null }) => [p.topic, p.partition, p.committed])).toEqual(
      [
        ...[[first, 0, null], [first, 1, 4], [first, 2, null]],
        ...[[second, 0, 6], [second, 1, null], [second, 2, null]],
      ].sort((a, b) => (a[0] === b[0] ? 0 : String(a[0]) < String(b[0]) ? -1 : 1)),
    );
    const reset = await runCli(['offsets', 'reset', '--store', url, '--group', group, '--all-topics', '--to-latest', '--execute']);
    expect(reset.code).toBe(ExitCode.OK);
    expect(await storedOf(url, group, first)).toEqual([10, 10, 10]);
    expect(await storedOf(url, group, second)).toEqual([10, 10, 10]);
    expect(await storedOf(url, group, other)).toEqual([null, null, null]);
  });
});

describe('dstream offsets, safety', () => {
  it('writes nothing when the stored offsets changed after the plan was read', async () => {
    const topic = await newTopic();
    const group = uniqueName('cli-stale');
    const session = new OffsetsSession({ out: process.stdout, err: process.stderr, in: process.stdin }, services.kafkaBrokers, 10_000);
    try {
      const store = await session.open(parseStoreUrl('--store', services.redisUrl), { mustExist: false });
      await store.commit(group, [{ range: OffsetRange.create(topic, 0, 0, 5), expectedOffset: null }]);
      const plan = [
        { topic, partition: 0, current: 5, target: 0 },
        { topic, partition: 1, current: null, target: 0 },
      ];
      // Another writer (the job) moves partition 0 after the plan was read.
      await store.commit(group, [{ range: OffsetRange.create(topic, 0, 5, 8), expectedOffset: 5 }]);
      await expect(session.write(store, group, plan)).rejects.toThrow(StaleOffsetError);
      expect(await storedOf(services.redisUrl, group, topic)).toEqual([8, null, null]);
    } finally {
      await session.close();
    }
  });

  it('never prints the password of a store URL', async () => {
    const topic = await newTopic();
    const url = services.pgUrl.replace('postgres@', 'postgres:Sup3r%2Fsecret@');
    const run = await runCli(['offsets', 'show', '--store', url, '--group', uniqueName('cli-redaction'), '--topic', topic]);
    expect(run.code).toBe(ExitCode.OK);
    expect(run.out).toContain('postgres:***@');
    expect(`${run.out}${run.err}`).not.toMatch(/Sup3r/);

    const unreachable = await runCli(['offsets', 'show', '--store', 'redis://:Sup3r-secret@127.0.0.1:1', '--group', 'g', '--topic', topic, '--timeout-ms', '1000']);
    expect(unreachable.code).toBe(ExitCode.FAILED);
    expect(unreachable.err).toContain('dstream: offset store redis');
    expect(unreachable.err).not.toContain('Sup3r');
  });

  it('names the missing checkpoint directory and the unknown topic', async () => {
    const missing = await runCli(['offsets', 'show', '--store', `file://${checkpointDir}/nope`, '--group', 'g', '--topic', 't']);
    expect(missing.code).toBe(ExitCode.USAGE);
    expect(missing.err).toContain(`--store must name an existing checkpoint directory (${checkpointDir}/nope does not exist)`);

    const topic = uniqueName('cli-no-such-topic');
    const unknown = await runCli(['offsets', 'show', '--store', services.redisUrl, '--group', 'g', '--topic', topic]);
    expect(unknown.code).toBe(ExitCode.USAGE);
    expect(unknown.err).toContain(`--topic must name a topic of the cluster at ${services.kafkaBrokers}; got "${topic}"`);
  });

  it('reads an import file and rejects one of another format, naming it', async () => {
    const file = join(checkpointDir, 'not-an-export.json');
    writeFileSync(file, JSON.stringify({ format: 'something-else' }));
    const run = await runCli(['offsets', 'import', file, '--store', services.redisUrl]);
    expect(run.code).toBe(ExitCode.USAGE);
    expect(run.err).toContain(`<file> must be a dstream offsets export (with "format": "dstream-offsets-export"); got "${file}"`);
  });
});

describe('dstream offsets without Kafka', () => {
  it('names the brokers and the flags to fix when Kafka cannot be reached', async () => {
    const run = await runCli([
      'offsets', 'show', '--store', services.redisUrl, '--group', 'g', '--topic', 't', '--bootstrap-servers', '127.0.0.1:1', '--timeout-ms', '1500',
    ]);
    expect(run.code).toBe(ExitCode.FAILED);
    expect(run.err).toMatch(/^dstream: could not reach Kafka at 127\.0\.0\.1:1 within 1500 ms \(.*\)\. The CLI reads partitions and log ends there: pass the cluster with --bootstrap-servers, or raise --timeout-ms\n$/);
  });
});
