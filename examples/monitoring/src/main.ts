/**
 * Runs a page-view counter the way it is watched in production: the job serves Prometheus
 * metrics at `/metrics` and its batch timeline page, both on ports of its own. Page views are
 * produced in waves; the example scrapes its own metrics as Prometheus would until the lag is
 * zero, prints them and the page's numbers, and checks both against the views it counted.
 *
 *   node dist/main.js [--records 3000] [--rate 600] [--metrics-port 9464] [--ui-port 4040]
 *                     [--host 127.0.0.1] [--forever]
 *
 * `--forever` keeps producing (at `--rate`) until Ctrl-C, to look at the page while it moves.
 * Port 0 takes any free port; the addresses are printed.
 */
import { ConfigError } from '@dstream/core';
import type { TimelineSnapshot } from '@dstream/core';
import { brokersFromEnv, createTopic, integerFlag, produce, redisUrlFromEnv, runMain } from '@dstream/example-support';
import { pageViewJob } from './pageViewJob';

const PAGES = ['/', '/pricing', '/docs', '/blog', '/signup'];
const PARTITIONS = 3;

/** View `i`: a deterministic page, so the expected counts can be recomputed. */
const pageOf = (i: number) => PAGES[(i * 7 + (i >> 3)) % PAGES.length];

function* pageViews(from: number, count: number) {
  for (let i = from; i < from + count; i++) yield { key: `user-${i % 97}`, value: pageOf(i) };
}

/** The `--host` argument: the interface the metrics and the page listen on. */
function hostFlag(argv: readonly string[]): string {
  const at = argv.indexOf('--host');
  if (at < 0) return '127.0.0.1';
  const value = argv[at + 1];
  if (value === undefined || value === '' || value.startsWith('--')) {
    throw new ConfigError('--host', value, 'needs an interface address', 'Example: --host 0.0.0.0 to be reachable from other hosts.');
  }
  return value;
}

/** The samples of a scrape whose name starts with `dstream_`, histogram buckets left out. */
function dstreamSamples(scrape: string): string[] {
  return scrape.split('\n').filter((line) => line.startsWith('dstream_') && !line.includes('_bucket{'));
}

/** Sum of the samples of metric `name` (all label sets). */
function total(scrape: string, name: string): number {
  return scrape
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** Scrapes `url` every 200 ms until `isDone` holds for a scrape, which it returns; gives up after 60 s. */
async function scrapeUntil(url: string, isDone: (scrape: string) => boolean): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const scrape = await (await fetch(url)).text();
    if (isDone(scrape)) return scrape;
    if (Date.now() > deadline) throw new Error(`the metrics did not get there within 60 s:\n${dstreamSamples(scrape).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

runMain(async () => {
  const argv = process.argv.slice(2);
  const records = integerFlag(argv, '--records', 3000, 1);
  const rate = integerFlag(argv, '--rate', 600, 1);
  const host = hostFlag(argv);
  const isForever = argv.includes('--forever');
  const brokers = brokersFromEnv();
  const topic = `dstream-monitoring-${Date.now()}`;
  const group = `page-views-${Date.now()}`;
  const views = new Map<string, number>();

  await createTopic(brokers, topic, PARTITIONS);
  const ssc = pageViewJob({
    brokers,
    redisUrl: redisUrlFromEnv(),
    topic,
    group,
    metrics: { port: integerFlag(argv, '--metrics-port', 9464, 0), host },
    ui: { port: integerFlag(argv, '--ui-port', 4040, 0), host },
    views,
  });
  await ssc.start();
  console.log(`metrics: ${ssc.metricsUrl}`);
  console.log(`batch timeline: ${ssc.uiUrl}`);

  if (isForever) {
    console.log(`producing ${rate} page views/s to ${topic} until Ctrl-C`);
    const endless = function* () {
      for (let i = 0; ; i++) yield { key: `user-${i % 97}`, value: pageOf(i) };
    };
    await Promise.race([produce(brokers, topic, endless(), { ratePerSecond: rate }), ssc.awaitTermination()]);
    return;
  }

  // Two waves: the first faster than the job's rate limit, so lag builds up and drains.
  const firstWave = Math.ceil(records / 2);
  await produce(brokers, topic, pageViews(0, firstWave));
  const midway = await scrapeUntil(ssc.metricsUrl!, (scrape) => total(scrape, 'dstream_input_records_total') > 0);
  console.log(`lag after the first batch of the first wave (${firstWave} views):`);
  for (const line of dstreamSamples(midway).filter((l) => l.startsWith('dstream_consumer_lag_records'))) console.log(`  ${line}`);
  await produce(brokers, topic, pageViews(firstWave, records - firstWave), { ratePerSecond: rate });
  console.log(`produced ${records} page views to ${topic} (${PARTITIONS} partitions)`);

  // Scrape the job's own endpoint, as Prometheus would, until every view is in and the lag is 0.
  const scrape = await scrapeUntil(
    ssc.metricsUrl!,
    (text) => total(text, 'dstream_input_records_total') === records && total(text, 'dstream_consumer_lag_records') === 0,
  );
  console.log(`GET ${ssc.metricsUrl} (dstream_ samples, buckets left out):`);
  for (const line of dstreamSamples(scrape)) console.log(`  ${line}`);

  const timeline = (await (await fetch(`${ssc.uiUrl}/api/timeline`)).json()) as TimelineSnapshot;
  const lag = timeline.partitions.reduce((sum, p) => sum + p.lag, 0);
  console.log(`GET ${ssc.uiUrl}/api/timeline: ${timeline.completedBatches} completed batches, ${timeline.totalRecords} records, lag ${lag}`);
  await ssc.stop({ graceful: true });

  const counted = [...views.values()].reduce((a, b) => a + b, 0);
  const expected = new Map<string, number>();
  for (let i = 0; i < records; i++) expected.set(pageOf(i), (expected.get(pageOf(i)) ?? 0) + 1);
  const wrong = [...expected].filter(([page, count]) => views.get(page) !== count);
  if (wrong.length > 0 || counted !== records || timeline.totalRecords !== records || lag !== 0) {
    throw new Error(`counted ${counted} views, the page shows ${timeline.totalRecords} and lag ${lag}; expected ${records} and 0`);
  }
  console.log(`views per page: ${[...views].sort().map(([page, count]) => `${page}=${count}`).join(' ')}`);
  console.log(`every one of ${records} page views counted once; metrics and the timeline page agree`);
});
