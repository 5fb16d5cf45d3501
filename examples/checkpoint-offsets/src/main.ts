/**
 * Runs the order-revenue sum on a fresh topic with its offsets in checkpoint files: produces
 * orders, lets one StreamingContext sum about half of them, stops it gracefully, shows the newest
 * checkpoint file, starts a new context that resumes from it, and checks that every order was
 * added once.
 *
 *   node dist/main.js [--records 2000] [--directory DIR]
 *
 * `--directory` defaults to a new directory under the system's temp directory.
 */
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@dstream/core';
import type { CheckpointFile } from '@dstream/offsets-checkpoint';
import { CheckpointOffsetStore } from '@dstream/offsets-checkpoint';
import { brokersFromEnv, createTopic, firstBatchRanges, integerFlag, produce, runMain, runUntilCommitted } from '@dstream/example-support';
import { revenueJob } from './revenueJob';

const PRODUCTS = ['keyboard', 'mouse', 'monitor', 'cable', 'dock'];
const PARTITIONS = 3;

/** Order `i`: deterministic (product and price), so the expected revenue can be recomputed. */
const order = (i: number) => ({ product: PRODUCTS[(i * 7 + (i >> 4)) % PRODUCTS.length], cents: 199 + ((i * 53) % 5000) });

/** Orders [0, records) as records keyed by order number, for `produce`. */
function* orderRecords(records: number) {
  for (let i = 0; i < records; i++) {
    const { product, cents } = order(i);
    yield { key: `order-${i}`, value: `${product},${cents}` };
  }
}

/** The `--directory` argument, or a new temp directory. */
function checkpointDirectory(argv: readonly string[]): string {
  const at = argv.indexOf('--directory');
  if (at < 0) return mkdtempSync(path.join(tmpdir(), 'dstream-checkpoint-offsets-'));
  const value = argv[at + 1];
  if (value === undefined || value === '' || value.startsWith('--')) {
    throw new ConfigError('--directory', value, 'needs a directory', 'Example: --directory /var/lib/revenue/offsets.');
  }
  return path.resolve(value);
}

/** The newest checkpoint of `group`: its file name and content, as a reader with `ls` and `jq` sees them. */
async function newestCheckpoint(directory: string, group: string): Promise<{ file: string; checkpoint: CheckpointFile }> {
  const groupDirectory = path.join(directory, encodeURIComponent(group));
  const files = (await fs.readdir(groupDirectory)).filter((name) => /^offsets-\d+\.json$/.test(name)).sort();
  const file = path.join(groupDirectory, files[files.length - 1]);
  return { file, checkpoint: JSON.parse(await fs.readFile(file, 'utf8')) as CheckpointFile };
}

runMain(async () => {
  const argv = process.argv.slice(2);
  const records = integerFlag(argv, '--records', 2000, 2);
  const directory = checkpointDirectory(argv);
  const brokers = brokersFromEnv();
  const topic = `dstream-checkpoint-offsets-${Date.now()}`;
  const group = `order-revenue-${Date.now()}`;
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  const revenue = new Map<string, number>();

  await createTopic(brokers, topic, PARTITIONS);
  await produce(brokers, topic, orderRecords(records));
  console.log(`produced ${records} orders to ${topic} (${PARTITIONS} partitions); offsets checkpointed in ${directory}`);

  // A store of our own to watch progress: the one inside the job belongs to its stream.
  const store = new CheckpointOffsetStore({ directory });
  await store.connect();
  const firstStop = await runUntilCommitted(revenueJob({ brokers, topic, group, directory, revenue }), store, group, partitions, records / 2);
  console.log(`first context stopped after ${firstStop} records`);
  const { file, checkpoint } = await newestCheckpoint(directory, group);
  console.log(`offsets: jq .offsets ${file} -> ${JSON.stringify(checkpoint.offsets)}`);

  // The second context's first batch must start exactly at the offsets of that checkpoint.
  const second = revenueJob({ brokers, topic, group, directory, revenue });
  const resumedAt = firstBatchRanges(second);
  const secondStop = await runUntilCommitted(second, store, group, partitions, records);
  const isExact = resumedAt()?.every((range) => checkpoint.offsets[topic]?.[range.partition] === range.fromOffset) === true;
  console.log(
    `second context's first batch started at ${(resumedAt() ?? []).map(String).join('  ')}: ` +
      (isExact ? 'exactly the checkpointed offsets' : 'NOT the checkpointed offsets'),
  );
  console.log(`second context stopped after ${secondStop} records`);

  const expected = new Map<string, number>();
  for (let i = 0; i < records; i++) expected.set(order(i).product, (expected.get(order(i).product) ?? 0) + order(i).cents);
  console.log(`revenue per product: ${[...revenue].sort().map(([product, cents]) => `${product}=${(cents / 100).toFixed(2)}`).join(' ')}`);
  const wrong = [...expected].filter(([product, cents]) => revenue.get(product) !== cents);
  if (!isExact || wrong.length > 0 || revenue.size !== expected.size) {
    throw new Error(`the revenue summed differs from the orders produced for: ${wrong.map(([product]) => product).join(', ') || 'none'}`);
  }
  console.log(`every one of ${records} orders added exactly once across a graceful stop and a restart from the checkpoint`);
});
