/**
 * Runs the page-view count on a fresh topic with its offsets in ZooKeeper: produces page views,
 * lets one StreamingContext count about half of them, stops it gracefully, reads the offsets back
 * from the znodes `/consumers/<group>/offsets/<topic>/<partition>`, starts a new context that
 * resumes from them, and checks that every view was counted once.
 *
 *   node dist/main.js [--records 2000]
 */
import { brokersFromEnv, createTopic, firstBatchRanges, integerFlag, produce, runMain, runUntilCommitted, zkFromEnv } from '@dstream/example-support';
import { ZooKeeperOffsetStore } from '@dstream/offsets-zookeeper';
import { createClient } from 'node-zookeeper-client';
import { pageViewsJob } from './pageViewsJob';

const PAGES = ['/', '/pricing', '/docs', '/docs/offsets', '/blog', '/signup', '/login'];
const PARTITIONS = 3;

/** Page view `i`: deterministic (visitor and page), so the expected counts can be recomputed. */
const pageView = (i: number) => ({ key: `visitor-${i % 97}`, value: PAGES[(i * 3 + (i >> 5)) % PAGES.length] });

/** Page views [0, records) as records keyed by visitor, for `produce`. */
function* pageViews(records: number) {
  for (let i = 0; i < records; i++) yield pageView(i);
}

/** What each partition's znode holds, read with a ZooKeeper client of our own, as `zkCli.sh get` shows it. */
async function readZnodes(connectionString: string, paths: readonly string[]): Promise<string[]> {
  const client = createClient(connectionString);
  const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
  client.connect();
  try {
    await connected;
    return await Promise.all(
      paths.map(
        (path) =>
          new Promise<string>((resolve, reject) =>
            client.getData(path, (error, data) =>
              error ? reject(new Error(`reading ${path} from ZooKeeper at ${connectionString} failed: ${String(error)}`, { cause: error })) : resolve(data?.toString('utf8') ?? ''),
            ),
          ),
      ),
    );
  } finally {
    client.close();
  }
}

runMain(async () => {
  const records = integerFlag(process.argv.slice(2), '--records', 2000, 2);
  const brokers = brokersFromEnv();
  const zookeeper = zkFromEnv();
  const topic = `dstream-zookeeper-offsets-${Date.now()}`;
  const group = `page-views-${Date.now()}`;
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  const totals = new Map<string, number>();

  await createTopic(brokers, topic, PARTITIONS);
  await produce(brokers, topic, pageViews(records));
  console.log(`produced ${records} page views to ${topic} (${PARTITIONS} partitions); offsets in ZooKeeper at ${zookeeper}`);

  // A store of our own to watch progress: the one inside the job belongs to its stream.
  const store = new ZooKeeperOffsetStore({ connectionString: zookeeper });
  await store.connect();
  try {
    const firstStop = await runUntilCommitted(pageViewsJob({ brokers, zookeeper, topic, group, totals }), store, group, partitions, records / 2);
    console.log(`first context stopped after ${firstStop} records`);
    const paths = partitions.map(({ partition }) => `/consumers/${group}/offsets/${topic}/${partition}`);
    const znodes = await readZnodes(zookeeper, paths);
    paths.forEach((path, i) => console.log(`offsets: zkCli.sh get ${path} -> ${znodes[i]}`));

    // The second context's first batch must start exactly at the offsets read back above.
    const second = pageViewsJob({ brokers, zookeeper, topic, group, totals });
    const resumedAt = firstBatchRanges(second);
    const secondStop = await runUntilCommitted(second, store, group, partitions, records);
    const starts = (resumedAt() ?? []).map((range) => `${range.topic}/${range.partition}=${range.fromOffset}`).join(' ');
    const isExact = resumedAt()?.every((range) => String(range.fromOffset) === znodes[range.partition]) === true;
    console.log(`second context's first batch started at ${starts}: ${isExact ? 'exactly the stored offsets' : 'NOT the stored offsets'}`);
    console.log(`second context stopped after ${secondStop} records`);

    const expected = new Map<string, number>();
    for (let i = 0; i < records; i++) expected.set(pageView(i).value, (expected.get(pageView(i).value) ?? 0) + 1);
    console.log(`views per page: ${[...totals].sort().map(([page, n]) => `${page}=${n}`).join(' ')}`);
    const wrong = [...expected].filter(([page, n]) => totals.get(page) !== n);
    if (!isExact || wrong.length > 0 || totals.size !== expected.size) {
      throw new Error(`the views counted differ from those produced for: ${wrong.map(([page]) => page).join(', ') || 'none'}`);
    }
    console.log(`every one of ${records} page views counted exactly once across a graceful stop and a restart from ZooKeeper`);
  } finally {
    await store.close();
  }
});
