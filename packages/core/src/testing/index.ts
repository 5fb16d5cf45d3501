/**
 * @dstream/core/testing: a virtual clock, in-memory inputs and helpers to run operator chains
 * batch by batch, plus the contract suite every OffsetStore passes.
 */

// offset store contract
export { describeOffsetStoreContract } from './offsetStoreContract';
export type { OffsetStoreContractFactory } from './offsetStoreContract';
export { freeLoopbackPort } from './freeLoopbackPort';
export { captureOutput } from './captureOutput';
export type { CapturedOutput } from './captureOutput';

// virtual clock, queue streams, batch runners
export { ManualClock } from './ManualClock';
export { queueStream } from './queueStream';
export type { QueueStreamOptions } from './queueStream';
export { runBatches, runBatches2 } from './runBatches';
export type { RunBatchesOptions } from './runBatches';
export { waitForBatches } from './waitForBatches';
export { RecordingInput } from './RecordingInput';
export { seededRandom, randomPairBatches } from './seededRandom';
export type { RecordingInputOptions } from './RecordingInput';

