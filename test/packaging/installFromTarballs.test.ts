import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Every published package packs into a tarball that a project outside this repository installs
// and uses: entry points, type declarations, the `testing` subpath, the CLI's bin, and peer
// dependencies on @dstream/core all resolve from the tarballs alone.

const root = path.resolve(__dirname, '../..');
const PACKAGES = ['core', 'offsets-checkpoint', 'offsets-hbase', 'offsets-kafka', 'offsets-postgres', 'offsets-redis', 'offsets-zookeeper', 'cli'];

/** Runs a command to completion (at most 60 s) and resolves with its standard output. */
function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, args, { cwd, encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** What the consuming project runs: each package loaded, and a trivial job without Kafka. */
const CONSUMER_JS = `
const assert = require('node:assert');
const { StreamingContext, InMemoryOffsetStore, OffsetRange, commitsFromRanges } = require('@dstream/core');
const { queueStream, waitForBatches } = require('@dstream/core/testing');
const { CheckpointOffsetStore } = require('@dstream/offsets-checkpoint');
const { HBaseOffsetStore } = require('@dstream/offsets-hbase');
const { KafkaOffsetStore } = require('@dstream/offsets-kafka');
const { PostgresOffsetStore } = require('@dstream/offsets-postgres');
const { RedisOffsetStore } = require('@dstream/offsets-redis');
const { ZooKeeperOffsetStore } = require('@dstream/offsets-zookeeper');
const { main, ExitCode } = require('@dstream/cli');
for (const Store of [CheckpointOffsetStore, HBaseOffsetStore, KafkaOffsetStore, PostgresOffsetStore, RedisOffsetStore, ZooKeeperOffsetStore]) {
  assert.strictEqual(typeof Store, 'function');
}
assert.strictEqual(typeof main, 'function');
assert.strictEqual(ExitCode.GROUP_ACTIVE, 3);

(async () => {
  const ssc = new StreamingContext({ appName: 'packaged', batchIntervalMs: 50, stopOnSignals: false, logger: { info() {}, warn() {}, error() {} } });
  const store = new InMemoryOffsetStore();
  await store.connect();
  const totals = new Map();
  let until = 0;
  queueStream(ssc, [['to be or', 'not to be'], ['to stream']])
    .flatMap((line) => line.split(' '))
    .map((word) => [word, 1])
    .reduceByKey((a, b) => a + b)
    .foreachBatch(async (counts) => {
      for (const [word, n] of counts) totals.set(word, (totals.get(word) ?? 0) + n);
      const range = OffsetRange.create('lines', 0, until, until + counts.length);
      await store.commit('packaged', commitsFromRanges([range]).map((c) => ({ ...c, expectedOffset: until === 0 ? null : until })));
      until = range.untilOffset;
    });
  const batches = waitForBatches(ssc, 2);
  await ssc.start();
  await batches;
  await ssc.stop({ graceful: true });
  assert.deepStrictEqual(Object.fromEntries(totals), { to: 3, be: 2, or: 1, not: 1, stream: 1 });
  assert.strictEqual((await store.load('packaged', [{ topic: 'lines', partition: 0 }])).get('lines:0'), until);
  console.log('packaged job counted', JSON.stringify(Object.fromEntries(totals)));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

/** Type-checked against the installed declarations, as a TypeScript user would compile it. */
const CONSUMER_TS = `
import { StreamingContext, InMemoryOffsetStore, type OffsetStore } from '@dstream/core';
import { ManualClock, queueStream } from '@dstream/core/testing';
import { RedisOffsetStore, type RedisOffsetStoreOptions } from '@dstream/offsets-redis';
import { CheckpointOffsetStore } from '@dstream/offsets-checkpoint';
import { HBaseOffsetStore } from '@dstream/offsets-hbase';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';
import { PostgresOffsetStore } from '@dstream/offsets-postgres';
import { ZooKeeperOffsetStore } from '@dstream/offsets-zookeeper';
import { main, type CliIO } from '@dstream/cli';

const options: RedisOffsetStoreOptions = { url: 'redis://127.0.0.1:6379' };
const stores: OffsetStore[] = [
  new InMemoryOffsetStore(),
  new RedisOffsetStore(options),
  new CheckpointOffsetStore({ directory: '/tmp/x' }),
  new HBaseOffsetStore({ url: 'http://127.0.0.1:18080' }),
  new KafkaOffsetStore(),
  new PostgresOffsetStore(),
  new ZooKeeperOffsetStore({ connectionString: '127.0.0.1:2181' }),
];
const ssc = new StreamingContext({ appName: 'typed', batchIntervalMs: 1000, clock: new ManualClock() });
const words = queueStream<string>(ssc, [['a']]).map((word) => word.length);
const exit: Promise<number> = main(['--help'], undefined as unknown as CliIO);
export { stores, words, exit };
`;

describe('packages installed from their tarballs into a project outside the repository', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'dstream-packaging-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('pack, install without compiling librdkafka again, load, type-check and run a job', async () => {
    // The tarballs hold dist/: build first (a no-op when `npm run build` already ran).
    await run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', ...PACKAGES.map((name) => `packages/${name}`)], root);

    const tarballs = path.join(work, 'tarballs');
    mkdirSync(tarballs);
    const packed = JSON.parse(
      await run('npm', ['pack', '--json', '--pack-destination', tarballs, ...PACKAGES.flatMap((name) => ['-w', `packages/${name}`])], root),
    ) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
    expect(packed.map((p) => p.name).sort()).toEqual(PACKAGES.map((name) => `@dstream/${name}`).sort());
    for (const { name, files } of packed) {
      const paths = files.map((file) => file.path);
      expect({ name, hasEntry: paths.includes('dist/index.js') && paths.includes('dist/index.d.ts') }).toEqual({ name, hasEntry: true });
      // Only the build and the manifest ship: no sources, tests or build state.
      expect({ name, extra: paths.filter((p) => !/^(dist\/.*\.(js|d\.ts|js\.map|d\.ts\.map)|package\.json|README\.md)$/.test(p)) }).toEqual({ name, extra: [] });
      expect({ name, tests: paths.filter((p) => /\.test\.|\/test\//.test(p)) }).toEqual({ name, tests: [] });
    }

    const app = path.join(work, 'app');
    mkdirSync(app);
    const tarball = (name: string) => `file:${path.join(tarballs, packed.find((p) => p.name === name)!.filename)}`;
    const fromTarballs = Object.fromEntries(packed.map((p) => [p.name, tarball(p.name)]));
    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({
        name: 'dstream-consumer-app',
        private: true,
        dependencies: fromTarballs,
        devDependencies: { '@types/node': `file:${path.join(root, 'node_modules/@types/node')}` },
        // Every @dstream dependency between the packages resolves to these tarballs, never a
        // registry; node-rdkafka is the repository's already compiled copy (a fresh install
        // would compile librdkafka for minutes).
        overrides: { ...fromTarballs, 'node-rdkafka': `file:${path.join(root, 'node_modules/node-rdkafka')}` },
      }),
    );
    // No install scripts: the packages and their dependencies are plain JavaScript, and the linked
    // node-rdkafka must not run its own (a node-gyp rebuild of the repository's copy).
    await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);
    expect(readdirSync(path.join(app, 'node_modules/@dstream')).sort()).toEqual(PACKAGES.slice().sort());

    writeFileSync(path.join(app, 'consumer.js'), CONSUMER_JS);
    expect(await run(process.execPath, ['consumer.js'], app)).toContain('packaged job counted {"to":3,"be":2,"or":1,"not":1,"stream":1}');
    // Resolved inside the project, not from this repository's workspaces.
    const resolved = (await run(process.execPath, ['-p', "require.resolve('@dstream/core')"], app)).trim();
    expect(resolved).toBe(path.join(app, 'node_modules/@dstream/core/dist/index.js'));

    writeFileSync(path.join(app, 'consumer.ts'), CONSUMER_TS);
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', strict: true, noEmit: true, types: ['node'] },
        files: ['consumer.ts'],
      }),
    );
    await run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);

    expect(await run(path.join(app, 'node_modules/.bin/dstream'), ['offsets', '--help'], app)).toContain('Usage: dstream offsets');
  });
});
