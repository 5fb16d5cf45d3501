/**
 * @dstream/example-support: what every example repeats. Service addresses from the environment,
 * topic creation and deletion, a paced producer that waits for every delivery report, running a job until its
 * stored offsets reach a count (and seeing where it resumed), running a compiled example as a child process, and
 * deterministic sentences whose word counts can be recomputed.
 */
export { brokersFromEnv, redisUrlFromEnv, zkFromEnv, hbaseRestFromEnv, pgUrlFromEnv } from './env';
export { createTopic } from './createTopic';
export { deleteTopic } from './deleteTopic';
export { produce } from './produce';
export type { ExampleRecord, ProduceOptions } from './produce';
export { committedRecords, firstBatchRanges, runUntilCommitted } from './runUntilCommitted';
export { runMain, integerFlag } from './runMain';
export { runExample } from './runExample';
export { expectedWordCounts, sentence, sentenceRecords } from './sentences';
export type { ExampleRun } from './runExample';
