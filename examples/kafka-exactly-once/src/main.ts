/**
 * Runs the upper-case copy on a fresh topic: produces words (and three malformed ones), runs the
 * job with a batch that fails midway (its transaction is aborted), restarts it, and checks with a
 * read_committed consumer that the output holds every word exactly once and the dead-letter topic
 * each malformed word once.
 *
 *   node dist/main.js [--records 1000]
 */
import { brokersFromEnv, createTopic, integerFlag, produce, runMain } from '@dstream/example-support';
import type { DeadLetter } from '@dstream/core';
import { readCommitted } from './readCommitted';
import { upperCaseJob } from './upperCaseJob';

const PARTITIONS = 2;

runMain(async () => {
  const records = integerFlag(process.argv.slice(2), '--records', 1000, 4);
  const brokers = brokersFromEnv();
  const topic = `dstream-kafka-exactly-once-${Date.now()}`;
  const output = `${topic}-upper`;
  const deadLetterTopic = `${topic}-dead-letters`;
  // Malformed records, which the job sets aside as dead letters, among the words.
  const malformed = [Math.floor(records / 5), Math.floor(records / 2), records - 2].map((i) => ({ at: i, value: `!word-${i}` }));
  const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  const word = (i: number) => `word-${i}`;

  await createTopic(brokers, topic, PARTITIONS);
  await createTopic(brokers, output, 1);
  await produce(brokers, topic, (function* () {
    for (let i = 0; i < records; i++) {
      yield { key: null, value: word(i), partition: i % PARTITIONS };
      const bad = malformed.find((m) => m.at === i);
      if (bad !== undefined) yield { key: null, value: bad.value, partition: i % PARTITIONS };
    }
  })());
  console.log(`produced ${records} words and ${malformed.length} malformed ones to ${topic} (${PARTITIONS} partitions)`);

  // First run: the batch holding the word at 3/4 fails after sending part of its records.
  const failAfter = word(Math.floor((records * 3) / 4));
  const first = upperCaseJob({ brokers, partitions, output, group: topic, failAfter, deadLetterTopic });
  await first.start();
  const failure = await first.awaitTermination().then(
    () => undefined,
    (error: Error) => error,
  );
  if (failure === undefined) throw new Error('the first run was meant to fail');
  console.log(`first run failed as planned: ${failure.message}`);

  const before = (await readCommitted(brokers, output)).length;

  // Second run: resumes from the offsets committed with the last successful transaction.
  const second = upperCaseJob({ brokers, partitions, output, group: topic, deadLetterTopic });
  let copied = 0;
  second.addStreamingListener({
    onBatchCompleted: ({ info }) => {
      if (info.failure === undefined) copied += info.numRecords;
    },
  });
  await second.start();
  while (before + copied < records) await new Promise((resolve) => setTimeout(resolve, 200));
  await second.stop({ graceful: true });
  console.log(`second run resumed after ${before} committed records and copied ${copied} more`);

  const values = await readCommitted(brokers, output);
  const expected = new Set(Array.from({ length: records }, (_, i) => word(i).toUpperCase()));
  const isExact = values.length === records && values.every((value) => expected.delete(value)) && expected.size === 0;
  if (!isExact) throw new Error(`the output holds ${values.length} records, not each of the ${records} words once`);
  console.log(`${output} read with read_committed holds each of the ${records} words exactly once`);

  const letters = (await readCommitted(brokers, deadLetterTopic)).map((json) => (JSON.parse(json) as DeadLetter).value);
  const isEachOnce = letters.length === malformed.length && malformed.every((m) => letters.includes(m.value));
  if (!isEachOnce) throw new Error(`${deadLetterTopic} holds ${JSON.stringify(letters)}, not each malformed word once`);
  console.log(`${deadLetterTopic} holds each of the ${malformed.length} malformed words once: ${letters.join(', ')}`);
});
