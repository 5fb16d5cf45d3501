/**
 * Runs the page-view count on a fresh topic with its offsets in HBase: produces page views, lets
 * one StreamingContext count about half of them, stops it gracefully, reads the offsets back from
 * the group's row through HBase's REST gateway (as `hbase shell` would show them) and the batch
 * history rows `<topic>:<group>:<batchTime>`, starts a new context that resumes from the stored
 * offsets, and checks that every view was counted once.
 *
 *   node dist/main.js [--records 2000]
 */
import { brokersFromEnv, createTopic, firstBatchRanges, hbaseRestFromEnv, integerFlag, produce, runMain, runUntilCommitted } from '@dstream/example-support';
import { groupRowKey, HBaseOffsetStore } from '@dstream/offsets-hbase';
import { pageViewsJob } from './pageViewsJob';

const PAGES = ['/', '/pricing', '/docs', '/docs/offsets', '/blog', '/signup', '/login'];
const PARTITIONS = 3;

/** Page view `i`: deterministic (visitor and page), so the expected counts can be recomputed. */
const pageView = (i: number) => ({ key: `visitor-${i % 97}`, value: PAGES[(i * 3 + (i >> 5)) % PAGES.length] });

/** Page views [0, records) as records keyed by visitor, for `produce`. */
function* pageViews(records: number) {
  for (let i = 0; i < records; i++) yield pageView(i);
}

/** The cells of one row, read with a plain REST GET (`hbase shell: get 'dstream:offsets', '<row>'`). */
async function readRow(rest: string, table: string, row: string): Promise<Map<string, string>> {
  const response = await fetch(`${rest}/${table}/${encodeURIComponent(row)}`, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET ${table}/${row} from HBase's REST gateway at ${rest} answered ${response.status}`);
  const body = (await response.json()) as { Row: Array<{ Cell: Array<{ column: string; $: string }> }> };
  const text = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
  return new Map(body.Row[0].Cell.map((cell) => [text(cell.column), text(cell.$)]));
}

runMain(async () => {
  const records = integerFlag(process.argv.slice(2), '--records', 2000, 2);
  const brokers = brokersFromEnv();
  const hbaseRest = hbaseRestFromEnv();
  const topic = `dstream-hbase-offsets-${Date.now()}`;
  const group = `page-views-${Date.now()}`;
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  const totals = new Map<string, number>();

  await createTopic(brokers, topic, PARTITIONS);
  await produce(brokers, topic, pageViews(records));
  console.log(`produced ${records} page views to ${topic} (${PARTITIONS} partitions); offsets in HBase through ${hbaseRest}`);

  // A store of our own to watch progress and list the history: the one inside the job belongs to its stream.
  const store = new HBaseOffsetStore({ url: hbaseRest });
  await store.connect();
  try {
    const firstStop = await runUntilCommitted(pageViewsJob({ brokers, hbaseRest, topic, group, totals }), store, group, partitions, records / 2);
    console.log(`first context stopped after ${firstStop} records`);
    const row = groupRowKey(group);
    const cells = await readRow(hbaseRest, store.tableName, row);
    const stored = partitions.map(({ partition }) => cells.get(`o:${topic}:${partition}`) ?? '');
    partitions.forEach(({ partition }, i) => console.log(`offsets: get '${store.tableName}', '${row}', 'o:${topic}:${partition}' -> ${stored[i]}`));
    console.log(`offsets: row ${row} is at version ${cells.get('o:version')}`);
    const history = await store.history(group, topic);
    console.log(`history: ${history.length} rows ${topic}:${group}:<batchTime>, newest ${history[0]?.batchTime} (${[...(history[0]?.offsets ?? [])].map(([key, offset]) => `${key}=${offset}`).join(' ')})`);

    // The second context's first batch must start exactly at the offsets read back above.
    const second = pageViewsJob({ brokers, hbaseRest, topic, group, totals });
    const resumedAt = firstBatchRanges(second);
    const secondStop = await runUntilCommitted(second, store, group, partitions, records);
    const starts = (resumedAt() ?? []).map((range) => `${range.topic}/${range.partition}=${range.fromOffset}`).join(' ');
    const isExact = resumedAt()?.every((range) => String(range.fromOffset) === stored[range.partition]) === true;
    console.log(`second context's first batch started at ${starts}: ${isExact ? 'exactly the stored offsets' : 'NOT the stored offsets'}`);
    console.log(`second context stopped after ${secondStop} records`);

    const expected = new Map<string, number>();
    for (let i = 0; i < records; i++) expected.set(pageView(i).value, (expected.get(pageView(i).value) ?? 0) + 1);
    console.log(`views per page: ${[...totals].sort().map(([page, n]) => `${page}=${n}`).join(' ')}`);
    const wrong = [...expected].filter(([page, n]) => totals.get(page) !== n);
    if (!isExact || wrong.length > 0 || totals.size !== expected.size) {
      throw new Error(`the views counted differ from those produced for: ${wrong.map(([page]) => page).join(', ') || 'none'}`);
    }
    console.log(`every one of ${records} page views counted exactly once across a graceful stop and a restart from HBase`);
  } finally {
    await store.close();
  }
});
