/**
 * Runs the Kafka-group word count on a fresh topic: produces sentences, lets one StreamingContext
 * count about half of them, stops it gracefully, starts a new one that resumes from the offsets
 * committed to the consumer group, and checks that every word was counted once. Prints the
 * group's name for `scripts/kafka-consumer-groups --describe --group <group>`.
 *
 *   node dist/main.js [--records 2000]
 */
import {
  brokersFromEnv,
  committedRecords,
  createTopic,
  expectedWordCounts,
  integerFlag,
  produce,
  runMain,
  runUntilCommitted,
  sentenceRecords,
} from '@dstream/example-support';
import { KafkaOffsetStore } from '@dstream/offsets-kafka';
import { wordCountJob } from './wordCountJob';

const WORDS = ['stream', 'batch', 'offset', 'group', 'commit', 'lag', 'once', 'kafka', 'partition', 'restart'];
const PARTITIONS = 3;

runMain(async () => {
  const records = integerFlag(process.argv.slice(2), '--records', 2000, 2);
  const brokers = brokersFromEnv();
  const topic = `dstream-kafka-offsets-${Date.now()}`;
  const group = topic;
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));

  await createTopic(brokers, topic, PARTITIONS);
  await produce(brokers, topic, sentenceRecords(WORDS, records, PARTITIONS));
  console.log(`produced ${records} sentences to ${topic} (${PARTITIONS} partitions)`);

  // The job's output, standing in for a real sink: running totals over both contexts.
  const totals = new Map<string, number>();
  const output = (counts: ReadonlyArray<readonly [string, number]>) => {
    for (const [word, n] of counts) totals.set(word, (totals.get(word) ?? 0) + n);
  };

  // A store of our own to watch progress, standalone: it only reads the group's offsets.
  const store = new KafkaOffsetStore({ brokers });
  await store.connect();
  try {
    const firstStop = await runUntilCommitted(wordCountJob({ brokers, topic, group, output }), store, group, partitions, records / 2);
    console.log(`first context stopped after ${firstStop} records`);
    const stored = await store.load(group, partitions);
    console.log(`offsets committed to group ${group}: ${JSON.stringify(Object.fromEntries(stored))}`);

    await runUntilCommitted(wordCountJob({ brokers, topic, group, output }), store, group, partitions, records);
    console.log(`second context resumed from the group's offsets and stopped after ${await committedRecords(store, group, partitions)} records`);

    const expected = expectedWordCounts(WORDS, records);
    console.log(`counts: ${JSON.stringify(Object.fromEntries(totals))}`);
    const wrong = [...expected].filter(([word, n]) => totals.get(word) !== n);
    if (wrong.length > 0 || totals.size !== expected.size) {
      throw new Error(`counts differ from the words produced for: ${wrong.map(([word]) => word).join(', ')}`);
    }
    console.log(`every word of ${records} sentences counted once across a graceful stop and restart`);
    console.log(`inspect: scripts/kafka-consumer-groups --describe --group ${group}`);
  } finally {
    await store.close();
  }
});
