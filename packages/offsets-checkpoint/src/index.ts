/**
 * @dstream/offsets-checkpoint: offsets in versioned JSON checkpoint files, written atomically on
 * a local or mounted file system and readable by any later version of the job.
 */
export { CheckpointOffsetStore } from './CheckpointOffsetStore';
export type { CheckpointOffsetStoreOptions } from './CheckpointOffsetStore';
export type { CheckpointFile, CheckpointOperatorState } from './checkpointFile';
